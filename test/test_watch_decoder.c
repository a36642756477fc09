/* Tests for the watch stream decoder: events split at every byte offset,
 * several events per chunk, the event size limit, malformed streams ending
 * with an error, and allocation failures. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "kr_suite.h"
#include "kr_test.h"

static const char STREAM[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"10\"},\"data\":{\"k\":\"brace } and \\\" quote {[\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"11\"},\"data\":{\"list\":[1,[2,{\"x\":\"\\\\\"}]]}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{"
    "\"resourceVersion\":\"12\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"13\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";

struct seen {
    int n;
    kr_watch_event_type types[16];
    char rvs[16][16];
    int stop_after; /* 0 = never */
};

static int collect(kr_watch_event_type type, json_t *object, void *user)
{
    struct seen *s = user;
    if (s->n < 16) {
        s->types[s->n] = type;
        const char *rv = json_string_value(
            json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
        snprintf(s->rvs[s->n], sizeof(s->rvs[0]), "%s", rv ? rv : "-");
    }
    s->n++;
    if (s->stop_after && s->n == s->stop_after)
        return 42;
    return 0;
}

static void assert_all_events(const struct seen *s)
{
    static const kr_watch_event_type want[] = {KR_WATCH_ADDED, KR_WATCH_MODIFIED, KR_WATCH_BOOKMARK,
                                               KR_WATCH_DELETED, KR_WATCH_ERROR};
    static const char *const rvs[] = {"10", "11", "12", "13", "-"};
    ck_assert_int_eq(s->n, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(s->types[i], want[i]);
        ck_assert_str_eq(s->rvs[i], rvs[i]);
    }
}

START_TEST(whole_stream_in_one_chunk_gives_every_event)
{
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 0);
    struct seen s = {0};
    ck_assert_int_eq(kr_watch_decoder_feed(&d, STREAM, strlen(STREAM), collect, &s, NULL), 0);
    ck_assert_int_eq(kr_watch_decoder_finish(&d, NULL), 0);
    assert_all_events(&s);
    kr_watch_decoder_free(&d);
}
END_TEST

/* Feed `text` in two chunks cut at `cut`; every call must succeed. */
static void feed_cut(const char *text, size_t cut, struct seen *s)
{
    size_t len = strlen(text);
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 0);
    ck_assert_int_eq(kr_watch_decoder_feed(&d, text, cut, collect, s, NULL), 0);
    ck_assert_int_eq(kr_watch_decoder_feed(&d, text + cut, len - cut, collect, s, NULL), 0);
    ck_assert_int_eq(kr_watch_decoder_finish(&d, NULL), 0);
    kr_watch_decoder_free(&d);
}

START_TEST(split_at_every_byte_offset_gives_the_same_events)
{
    size_t len = strlen(STREAM);
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s = {0};
        feed_cut(STREAM, cut, &s);
        assert_all_events(&s);
    }
}
END_TEST

START_TEST(split_at_every_pair_of_offsets_gives_the_same_events)
{
    /* Three chunks: every (a, b) cut pair over the first two events. */
    size_t len = strlen(STREAM);
    for (size_t a = 0; a < 300 && a <= len; a += 1) {
        for (size_t b = a; b <= len; b += 7) {
            kr_watch_decoder d;
            kr_watch_decoder_init(&d, 0);
            struct seen s = {0};
            ck_assert_int_eq(kr_watch_decoder_feed(&d, STREAM, a, collect, &s, NULL), 0);
            ck_assert_int_eq(kr_watch_decoder_feed(&d, STREAM + a, b - a, collect, &s, NULL), 0);
            ck_assert_int_eq(kr_watch_decoder_feed(&d, STREAM + b, len - b, collect, &s, NULL), 0);
            assert_all_events(&s);
            kr_watch_decoder_free(&d);
        }
    }
}
END_TEST

/* Events whose objects carry managedFields (first, last, with strings that
 * look like structure), and one whose managedFields jansson refuses. */
static const char MANAGED[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"managedFields\":[{"
    "\"manager\":\"m\",\"fieldsV1\":{\"f:data\":{\"f:k\":{}}}}],\"name\":\"a\","
    "\"resourceVersion\":\"10\"},\"data\":{\"k\":\"}]\\\"managedFields\\\":\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\", "
    "\"managedFields\" : [ {\"s\":\"\\\"}\\\\\"} ] }}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"12\"}}}"
    "\n";

struct trees {
    int n;
    json_t *objects[8];
};

static int keep_tree(kr_watch_event_type type, json_t *object, void *user)
{
    (void)type;
    struct trees *t = user;
    if (t->n < 8)
        t->objects[t->n] = json_incref(object);
    t->n++;
    return 0;
}

START_TEST(dropping_managed_fields_gives_the_trees_less_them_wherever_split)
{
    size_t len = strlen(MANAGED);
    struct trees want = {0};
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 0);
    ck_assert_int_eq(kr_watch_decoder_feed(&d, MANAGED, len, keep_tree, &want, NULL), 0);
    kr_watch_decoder_free(&d);
    ck_assert_int_eq(want.n, 3);
    for (int i = 0; i < want.n; i++)
        json_object_del(json_object_get(want.objects[i], "metadata"), "managedFields");
    for (size_t cut = 0; cut <= len; cut++) {
        struct trees got = {0};
        kr_watch_decoder_init(&d, 0);
        d.drop_managed_fields = true;
        ck_assert_int_eq(kr_watch_decoder_feed(&d, MANAGED, cut, keep_tree, &got, NULL), 0);
        ck_assert_int_eq(kr_watch_decoder_feed(&d, MANAGED + cut, len - cut, keep_tree, &got, NULL),
                         0);
        ck_assert_int_eq(kr_watch_decoder_finish(&d, NULL), 0);
        kr_watch_decoder_free(&d);
        ck_assert_int_eq(got.n, 3);
        for (int i = 0; i < got.n; i++) {
            ck_assert(json_equal(got.objects[i], want.objects[i]));
            json_decref(got.objects[i]);
        }
    }
    for (int i = 0; i < want.n; i++)
        json_decref(want.objects[i]);
    /* what jansson refuses is refused still */
    static const char bad[] =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"managedFields\":[1,],\"name\":\"a\"}}}\n";
    struct trees none = {0};
    kr_error_t err = {0};
    kr_watch_decoder_init(&d, 0);
    d.drop_managed_fields = true;
    ck_assert_int_eq(kr_watch_decoder_feed(&d, bad, strlen(bad), keep_tree, &none, &err),
                     KR_EPARSE);
    ck_assert_int_eq(none.n, 0);
    kr_watch_decoder_free(&d);
}
END_TEST

START_TEST(byte_by_byte_feeding_gives_the_same_events)
{
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 0);
    struct seen s = {0};
    for (size_t i = 0; STREAM[i]; i++)
        ck_assert_int_eq(kr_watch_decoder_feed(&d, STREAM + i, 1, collect, &s, NULL), 0);
    assert_all_events(&s);
    kr_watch_decoder_free(&d);
}
END_TEST

START_TEST(event_over_the_limit_is_an_error_even_when_split)
{
    size_t len = strlen(STREAM);
    /* The first event is 140-odd bytes: a limit of 100 rejects it. */
    for (size_t cut = 0; cut <= len; cut += 13) {
        kr_watch_decoder d;
        kr_watch_decoder_init(&d, 100);
        struct seen s = {0};
        kr_error_t err = {0};
        int rc = kr_watch_decoder_feed(&d, STREAM, cut, collect, &s, &err);
        if (rc == 0)
            rc = kr_watch_decoder_feed(&d, STREAM + cut, len - cut, collect, &s, &err);
        ck_assert_int_eq(rc, KR_ETOOLARGE);
        ck_assert_int_eq(s.n, 0);
        ck_assert_ptr_nonnull(strstr(err.message, "100 bytes"));
        /* Once failed, it stays failed. */
        ck_assert_int_eq(kr_watch_decoder_feed(&d, "{}", 2, collect, &s, NULL), KR_EPARSE);
        kr_watch_decoder_free(&d);
    }
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 150);
    struct seen s = {0};
    const char *small = "{\"type\":\"ADDED\",\"object\":{}}\n";
    ck_assert_int_eq(kr_watch_decoder_feed(&d, small, strlen(small), collect, &s, NULL), 0);
    ck_assert_int_eq(s.n, 1);
    kr_watch_decoder_free(&d);
}
END_TEST

static int feed_all(const char *text, struct seen *s, kr_error_t *err)
{
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 0);
    int rc = kr_watch_decoder_feed(&d, text, strlen(text), collect, s, err);
    if (rc == 0)
        rc = kr_watch_decoder_finish(&d, err);
    kr_watch_decoder_free(&d);
    return rc;
}

START_TEST(malformed_streams_end_with_a_parse_error)
{
    static const char *const bad[] = {
        "[1,2]\n",
        "hello\n",
        "{\"type\":\"ADDED\",\"object\":{}}\n\"x\"",
        "{\"type\":\"ADDED\",\"object\":{]}\n",
        "{\"type\":\"ADDED\",\"object\":{\"a\":tru}}\n",
        "{\"object\":{}}\n",
        "{\"type\":7,\"object\":{}}\n",
        "{\"type\":\"RENAMED\",\"object\":{}}\n",
        "{\"type\":\"ADDED\"}\n",
        "{\"type\":\"ADDED\",\"object\":[]}\n",
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        struct seen s = {0};
        kr_error_t err = {0};
        ck_assert_msg(feed_all(bad[i], &s, &err) == KR_EPARSE, "input %zu", i);
        ck_assert_msg(strstr(err.message, "watch stream") != NULL, "%s", err.message);
    }
    struct seen s = {0};
    kr_error_t err = {0};
    ck_assert_int_eq(feed_all("{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADD", &s, &err),
                     KR_EIO);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "ended inside an event"));
    /* a stream cut inside an event is the transport's doing (KR_EIO: watch
     * again), not the server's bad text (KR_EPARSE: list again) */
    struct seen cut = {0};
    ck_assert_int_eq(feed_all("{\"type\":\"ADDED\",\"object\":{}", &cut, &err), KR_EIO);
    ck_assert_int_eq(cut.n, 0);
    ck_assert_int_eq(
        feed_all("{\"type\":\"ADDED\",\"object\":{\"s\":\"unterminated}}\n", &cut, &err), KR_EIO);
    ck_assert_int_eq(cut.n, 0);
}
END_TEST

/* A chunk ending in a newline is parsed in place; an event printed over
 * several lines may then be cut at a newline inside it, and a chunk may end
 * in a malformed event: both must come out as from any other cut. */
START_TEST(chunks_ending_in_newlines_inside_an_event_give_the_same_events)
{
    static const char pretty[] = "{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"metadata\": "
                                 "{\"resourceVersion\": \"7\"}\n  }\n}\n"
                                 "{\"type\":\"DELETED\",\"object\":{}}\n";
    size_t len = strlen(pretty);
    for (size_t cut = 0; cut <= len; cut++) {
        if (cut > 0 && pretty[cut - 1] != '\n')
            continue;
        struct seen s = {0};
        feed_cut(pretty, cut, &s);
        ck_assert_msg(s.n == 2, "cut at %zu: %d events", cut, s.n);
        ck_assert_int_eq(s.types[0], KR_WATCH_ADDED);
        ck_assert_str_eq(s.rvs[0], "7");
    }
    struct seen s = {0};
    kr_error_t err = {0};
    ck_assert_int_eq(feed_all("{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADDED\",\"ob"
                              "ject\":{\"a\":tru}}\n",
                              &s, &err),
                     KR_EPARSE);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "malformed event"));
}
END_TEST

START_TEST(whitespace_only_and_missing_newlines_are_accepted)
{
    struct seen s = {0};
    ck_assert_int_eq(feed_all("  \r\n\t", &s, NULL), 0);
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(feed_all("{\"type\":\"ADDED\",\"object\":{}}{\"type\":\"DELETED\","
                              "\"object\":{}}",
                              &s, NULL),
                     0);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.types[1], KR_WATCH_DELETED);
}
END_TEST

START_TEST(callback_result_stops_decoding)
{
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 0);
    struct seen s = {.stop_after = 2};
    ck_assert_int_eq(kr_watch_decoder_feed(&d, STREAM, strlen(STREAM), collect, &s, NULL), 42);
    ck_assert_int_eq(s.n, 2);
    kr_watch_decoder_free(&d);
}
END_TEST

static int decode_split_stream(void *arg)
{
    (void)arg;
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, 0);
    struct seen s = {0};
    size_t len = strlen(STREAM);
    int rc = kr_watch_decoder_feed(&d, STREAM, 70, collect, &s, NULL);
    if (rc == 0)
        rc = kr_watch_decoder_feed(&d, STREAM + 70, len - 70, collect, &s, NULL);
    kr_watch_decoder_free(&d);
    /* Behaved: all events, or an out-of-memory error. */
    return (rc == 0 && s.n == 5) || rc == KR_ENOMEM || rc == KR_EPARSE ? 0 : 1;
}

START_TEST(allocation_failures_are_errors_without_leaks)
{
    ck_assert_int_gt(kr_test_alloc_failure_sweep(decode_split_stream, NULL), 0);
}
END_TEST

/* A custom resource may hold an integer beyond int64 (Go reads it as a
 * float64); jansson refuses it. The event is delivered all the same, the
 * number a real and every other integer an integer, wherever the stream
 * is split and whether the fast path or the scanning path decodes it. */
static const char BIG[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Widget\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"10\"},\"spec\":{\"replicas\":3,\"note\":\"12345678901234567890\","
    "\"extra\":{\"n\":100000000000000000000}}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Widget\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"11\"},\"spec\":{\"replicas\":4,\"extra\":{\"n\":-1e20}}}}\n";

struct big_seen {
    int n;
    bool ok;
};

static int check_big(kr_watch_event_type type, json_t *object, void *user)
{
    struct big_seen *s = user;
    json_t *spec = json_object_get(object, "spec");
    json_t *n = json_object_get(json_object_get(spec, "extra"), "n");
    json_t *replicas = json_object_get(spec, "replicas");
    bool first = s->n == 0;
    s->ok = s->ok && type == (first ? KR_WATCH_ADDED : KR_WATCH_MODIFIED) && json_is_real(n) &&
            json_real_value(n) == (first ? 1e20 : -1e20) && json_is_integer(replicas) &&
            json_integer_value(replicas) == (first ? 3 : 4);
    if (first)
        s->ok = s->ok && strcmp(json_string_value(json_object_get(spec, "note")),
                                "12345678901234567890") == 0;
    s->n++;
    return 0;
}

START_TEST(integers_beyond_int64_are_reals_wherever_split)
{
    size_t len = strlen(BIG);
    for (int drop = 0; drop < 2; drop++) {
        for (size_t cut = 0; cut <= len; cut++) {
            kr_watch_decoder d;
            kr_watch_decoder_init(&d, 0);
            d.drop_managed_fields = drop;
            struct big_seen s = {.ok = true};
            kr_error_t err = {0};
            ck_assert_msg(kr_watch_decoder_feed(&d, BIG, cut, check_big, &s, &err) == 0, "%s",
                          err.message);
            ck_assert_msg(kr_watch_decoder_feed(&d, BIG + cut, len - cut, check_big, &s, &err) == 0,
                          "cut %zu: %s", cut, err.message);
            ck_assert_int_eq(kr_watch_decoder_finish(&d, NULL), 0);
            ck_assert_int_eq(s.n, 2);
            ck_assert_msg(s.ok, "cut %zu", cut);
            kr_watch_decoder_free(&d);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watch_decoder");
    TCase *tc = tcase_create("decoder");
    tcase_add_test(tc, whole_stream_in_one_chunk_gives_every_event);
    tcase_add_test(tc, split_at_every_byte_offset_gives_the_same_events);
    tcase_add_test(tc, split_at_every_pair_of_offsets_gives_the_same_events);
    tcase_add_test(tc, byte_by_byte_feeding_gives_the_same_events);
    tcase_add_test(tc, dropping_managed_fields_gives_the_trees_less_them_wherever_split);
    tcase_add_test(tc, event_over_the_limit_is_an_error_even_when_split);
    tcase_add_test(tc, malformed_streams_end_with_a_parse_error);
    tcase_add_test(tc, whitespace_only_and_missing_newlines_are_accepted);
    tcase_add_test(tc, chunks_ending_in_newlines_inside_an_event_give_the_same_events);
    tcase_add_test(tc, callback_result_stops_decoding);
    tcase_add_test(tc, integers_beyond_int64_are_reals_wherever_split);
    tcase_add_test(tc, allocation_failures_are_errors_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
