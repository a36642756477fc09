/* Tests for the pure parts of the program toolkit: Go durations, the flag
 * parser with the shared flags and a program's own, --help/--version and
 * bad-flag exits, and the log sink's JSON and text lines (also from many
 * threads at once). KR_TEST_THREADED: the log sink test writes from threads. */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"
#include "kreconcile/manager.h"

/* ---- durations ---------------------------------------------------------- */

static uint64_t dur(const char *s)
{
    uint64_t ms = 12345;
    kr_error_t err = {0};
    ck_assert_msg(kr_duration_parse(s, &ms, &err) == 0, "%s: %s", s, err.message);
    return ms;
}

static void dur_bad(const char *s)
{
    uint64_t ms = 777;
    kr_error_t err = {0};
    ck_assert_msg(kr_duration_parse(s, &ms, &err) == KR_EPARSE, "%s parsed", s);
    ck_assert_int_eq(ms, 777);
    ck_assert_msg(strstr(err.message, s) != NULL, "message names the input: %s", err.message);
}

START_TEST(durations_parse_as_go_does)
{
    ck_assert_uint_eq(dur("90s"), 90000);
    ck_assert_uint_eq(dur("10m"), 600000);
    ck_assert_uint_eq(dur("1h30m"), 5400000);
    ck_assert_uint_eq(dur("1.5h"), 5400000);
    ck_assert_uint_eq(dur("300ms"), 300);
    ck_assert_uint_eq(dur("2h45m30.5s"), 9930500);
    ck_assert_uint_eq(dur("0"), 0);
    ck_assert_uint_eq(dur("0s"), 0);
    ck_assert_uint_eq(dur("-0"), 0);
    ck_assert_uint_eq(dur("+5s"), 5000);
    ck_assert_uint_eq(dur(".5s"), 500);
    ck_assert_uint_eq(dur("1.s"), 1000);
    ck_assert_uint_eq(dur("1h1m1s1ms"), 3661001);
    ck_assert_uint_eq(dur("1500us"), 2); /* sub-millisecond parts round up */
    ck_assert_uint_eq(dur("1\xc2\xb5s"), 1);
    ck_assert_uint_eq(dur("1\xce\xbcs"), 1);
    ck_assert_uint_eq(dur("1ns"), 1);
    ck_assert_uint_eq(dur("2562047h"), 2562047ULL * 3600000ULL); /* near Go's maximum */
    /* Go's maximum, also reached through a fraction: its last whole
     * millisecond, whose text parses back */
    ck_assert_uint_eq(dur("9223372036854775807ns"), 9223372036854ULL);
    ck_assert_uint_eq(dur("9223372036854775.807us"), 9223372036854ULL);
    ck_assert_uint_eq(dur("9223372036.854775807s"), 9223372036854ULL);
    char text[64];
    ck_assert_uint_eq(dur(kr_duration_format(dur("2562047h47m16.854775807s"), text, sizeof(text))),
                      9223372036854ULL);
    /* and signed zeros */
    ck_assert_uint_eq(dur("-0s"), 0);
    ck_assert_uint_eq(dur("-0ms"), 0);
}
END_TEST

START_TEST(bad_durations_are_refused_with_the_input_named)
{
    dur_bad("");
    dur_bad("10");
    dur_bad("-1s");
    dur_bad("-0s1ns");
    dur_bad("9223372036854775.808us");
    dur_bad("1x");
    dur_bad("s");
    dur_bad(".s");
    dur_bad("1h-1m");
    dur_bad("1 s");
    dur_bad("2562048h"); /* past int64 nanoseconds */
    dur_bad("9223372036854775808ns");
    dur_bad("99999999999999999999999s");
    dur_bad("2562047h47m17s"); /* the sum overflows */
    kr_error_t err = {0};
    uint64_t ms;
    ck_assert_int_eq(kr_duration_parse("1x", &ms, &err), KR_EPARSE);
    ck_assert_str_eq(err.message, "time: unknown unit \"x\" in duration \"1x\"");
    ck_assert_int_eq(kr_duration_parse("10", &ms, &err), KR_EPARSE);
    ck_assert_str_eq(err.message, "time: missing unit in duration \"10\"");
}
END_TEST

START_TEST(durations_format_as_go_does)
{
    char buf[64];
    ck_assert_str_eq(kr_duration_format(0, buf, sizeof(buf)), "0s");
    ck_assert_str_eq(kr_duration_format(300, buf, sizeof(buf)), "300ms");
    ck_assert_str_eq(kr_duration_format(1000, buf, sizeof(buf)), "1s");
    ck_assert_str_eq(kr_duration_format(1500, buf, sizeof(buf)), "1.5s");
    ck_assert_str_eq(kr_duration_format(90000, buf, sizeof(buf)), "1m30s");
    ck_assert_str_eq(kr_duration_format(5400000, buf, sizeof(buf)), "1h30m0s");
    ck_assert_str_eq(kr_duration_format(9930500, buf, sizeof(buf)), "2h45m30.5s");
    ck_assert_str_eq(kr_duration_format(3600001, buf, sizeof(buf)), "1h0m0.001s");
    ck_assert_str_eq(kr_duration_format(3600000, buf, 3), "1h");
    /* What it formats parses back. */
    const uint64_t samples[] = {1, 999, 1000, 61001, 86400000, 123456789};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        ck_assert_uint_eq(dur(kr_duration_format(samples[i], buf, sizeof(buf))), samples[i]);
}
END_TEST

/* ---- flags ---------------------------------------------------------------- */

struct opts {
    const char *ns;
    bool dry_run;
    long workers;
    uint64_t resync_ms;
    kr_flag_strings labels;
    kr_flag_strings files;
};

static struct opts po;
static kr_flag flags[6];
static kr_manager_program prog;

static void setup_program(void)
{
    po = (struct opts){.ns = "default", .workers = 2, .resync_ms = 600000};
    kr_flag f[] = {
        {.name = "namespace",
         .shorthand = 'n',
         .type = KR_FLAG_STRING,
         .value = &po.ns,
         .metavar = "NS",
         .help = "namespace to watch"},
        {.name = "dry-run", .type = KR_FLAG_BOOL, .value = &po.dry_run, .help = "change nothing"},
        {.name = "workers",
         .shorthand = 'w',
         .type = KR_FLAG_INT,
         .value = &po.workers,
         .help = "worker threads"},
        {.name = "resync",
         .type = KR_FLAG_DURATION,
         .value = &po.resync_ms,
         .help = "resync period"},
        {.name = "label",
         .shorthand = 'l',
         .type = KR_FLAG_STRINGS,
         .value = &po.labels,
         .metavar = "K=V",
         .help = "labels",
         .split_commas = true},
        {.name = "file",
         .shorthand = 'f',
         .type = KR_FLAG_STRINGS,
         .value = &po.files,
         .metavar = "FILE",
         .help = "files"},
    };
    memcpy(flags, f, sizeof(f));
    prog = (kr_manager_program){
        .name = "kr-test",
        .summary = "a program for tests",
        .usage = "[flags] ARGS...",
        .flags = flags,
        .n_flags = 6,
    };
}

static void teardown_program(void)
{
    kr_flag_strings_free(&po.labels);
    kr_flag_strings_free(&po.files);
}

/* argv for the parser: "kr-test" then the NULL-terminated arguments. */
static int build_argv(char **argv, va_list ap)
{
    static char storage[64][256];
    int argc = 0;
    argv[argc++] = "kr-test";
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 63;) {
        snprintf(storage[argc], sizeof(storage[argc]), "%s", a);
        argv[argc] = storage[argc];
        argc++;
    }
    argv[argc] = NULL;
    return argc;
}

static int parse(kr_manager_config *cfg, kr_error_t *err, ...)
{
    static char *argv[64];
    va_list ap;
    va_start(ap, err);
    int argc = build_argv(argv, ap);
    va_end(ap);
    return kr_manager_parse_args(&prog, argc, argv, cfg, err);
}

START_TEST(defaults_without_arguments)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    ck_assert_int_eq(parse(&cfg, &err, NULL), 0);
    ck_assert_ptr_null(cfg.kubeconfig);
    ck_assert_ptr_null(cfg.context);
    ck_assert_uint_eq(cfg.n_clusters, 0);
    ck_assert(!cfg.leader_elect);
    ck_assert_str_eq(cfg.lease_name, "kr-test");
    ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    ck_assert_int_eq(cfg.log_format, KR_LOG_FORMAT_JSON);
    ck_assert_int_eq(cfg.verbosity, 0);
    ck_assert_uint_eq(cfg.n_args, 0);
    ck_assert_str_eq(po.ns, "default");
    ck_assert_int_eq(po.workers, 2);
    ck_assert_uint_eq(po.resync_ms, 600000);
    kr_manager_config_free(&cfg);
}
END_TEST

START_TEST(shared_and_program_flags_in_both_spellings)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    int rc =
        parse(&cfg, &err, "--kubeconfig", "/k/hub.yaml", "--context=admin", "first", "--hub-name",
              "hub-east.1", "--cluster", "dc1=/k/dc1.yaml", "--cluster=dc2=/k/dc2.yaml:ctx-2",
              "--cluster", "eks=/k/eks:arn:aws:eks:eu-west-1:1234:cluster/prod", "--leader-elect",
              "--lease-namespace", "kube-system", "--lease-name=lock", "--listen", ":9090",
              "--leader-elect-lease-duration", "1m", "--leader-elect-renew-deadline=40s",
              "--leader-elect-retry-period", "5s", "--log-format=text", "-v", "3", "--kube-api-qps",
              "50", "--kube-api-burst=100", "--request-timeout", "1m30s", "--request-timeout=45",
              "-n", "prod", "--dry-run=true", "-w4", "--resync", "1h30m", "-l", "a=1,b=2",
              "--label=c=3", "-f", "x,y", "--file=z", "second", "--", "--not-a-flag", "-x", NULL);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert_str_eq(cfg.kubeconfig, "/k/hub.yaml");
    ck_assert_str_eq(cfg.context, "admin");
    ck_assert_str_eq(cfg.hub_name, "hub-east.1");
    ck_assert_uint_eq(cfg.n_clusters, 3);
    ck_assert_str_eq(cfg.clusters[0].name, "dc1");
    ck_assert_str_eq(cfg.clusters[0].kubeconfig, "/k/dc1.yaml");
    ck_assert_ptr_null(cfg.clusters[0].context);
    ck_assert_str_eq(cfg.clusters[1].name, "dc2");
    ck_assert_str_eq(cfg.clusters[1].kubeconfig, "/k/dc2.yaml");
    ck_assert_str_eq(cfg.clusters[1].context, "ctx-2");
    ck_assert_str_eq(cfg.clusters[2].kubeconfig, "/k/eks");
    ck_assert_str_eq(cfg.clusters[2].context, "arn:aws:eks:eu-west-1:1234:cluster/prod");
    ck_assert(cfg.leader_elect);
    ck_assert_str_eq(cfg.lease_namespace, "kube-system");
    ck_assert_str_eq(cfg.lease_name, "lock");
    ck_assert_uint_eq(cfg.leader_lease_duration_ms, 60000);
    ck_assert_uint_eq(cfg.leader_renew_deadline_ms, 40000);
    ck_assert_uint_eq(cfg.leader_retry_period_ms, 5000);
    ck_assert_str_eq(cfg.listen, ":9090");
    ck_assert_int_eq(cfg.log_format, KR_LOG_FORMAT_TEXT);
    ck_assert_int_eq(cfg.verbosity, 3);
    ck_assert(cfg.kube_api_qps == 50.0);
    ck_assert_int_eq(cfg.kube_api_burst, 100);
    ck_assert(cfg.request_timeout_set);
    ck_assert_uint_eq(cfg.request_timeout_ms, 45000); /* the last; seconds alone, as kubectl */
    ck_assert_str_eq(po.ns, "prod");
    ck_assert(po.dry_run);
    ck_assert_int_eq(po.workers, 4);
    ck_assert_uint_eq(po.resync_ms, 5400000);
    ck_assert_uint_eq(po.labels.n, 3);
    ck_assert_str_eq(po.labels.items[0], "a=1");
    ck_assert_str_eq(po.labels.items[1], "b=2");
    ck_assert_str_eq(po.labels.items[2], "c=3");
    ck_assert_uint_eq(po.files.n, 2); /* no split_commas: "x,y" is one value */
    ck_assert_str_eq(po.files.items[0], "x,y");
    ck_assert_str_eq(po.files.items[1], "z");
    ck_assert_uint_eq(cfg.n_args, 4);
    ck_assert_str_eq(cfg.args[0], "first");
    ck_assert_str_eq(cfg.args[1], "second");
    ck_assert_str_eq(cfg.args[2], "--not-a-flag");
    ck_assert_str_eq(cfg.args[3], "-x");
    kr_manager_config_free(&cfg);
}
END_TEST

START_TEST(bool_flags_take_only_attached_values)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    /* "--dry-run false": false is a positional argument, as with pflag. */
    ck_assert_int_eq(parse(&cfg, &err, "--dry-run", "false", "--leader-elect=0", NULL), 0);
    ck_assert(po.dry_run);
    ck_assert(!cfg.leader_elect);
    ck_assert_uint_eq(cfg.n_args, 1);
    ck_assert_str_eq(cfg.args[0], "false");
    kr_manager_config_free(&cfg);
    ck_assert_int_eq(parse(&cfg, &err, "--dry-run=maybe", NULL), KR_EINVAL);
    ck_assert_str_eq(err.message,
                     "invalid argument \"maybe\" for \"--dry-run\" flag: want true or false");
    kr_manager_config_free(&cfg);
    ck_assert_int_eq(parse(&cfg, &err, "-", NULL), 0); /* "-" is an argument (stdin) */
    ck_assert_uint_eq(cfg.n_args, 1);
    kr_manager_config_free(&cfg);
}
END_TEST

static void expect_error(const char *want, ...)
{
    static char *argv[64];
    va_list ap;
    va_start(ap, want);
    int argc = build_argv(argv, ap);
    va_end(ap);
    kr_manager_config cfg;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_manager_parse_args(&prog, argc, argv, &cfg, &err), KR_EINVAL);
    ck_assert_msg(strcmp(err.message, want) == 0, "got \"%s\", want \"%s\"", err.message, want);
    ck_assert_ptr_null(strchr(err.message, '\n'));
    kr_manager_config_free(&cfg);
}

START_TEST(bad_flags_give_one_clear_line)
{
    /* a program that takes no positional arguments refuses them */
    prog.no_args = true;
    expect_error("\"kr-test\" does not take any arguments, got [\"extra\" \"more\"]", "-n", "x",
                 "extra", "more", NULL);
    prog.no_args = false;
    expect_error("unknown flag: --bogus", "--bogus", NULL);
    expect_error("unknown flag: --bogus", "--bogus=1", NULL);
    expect_error("unknown shorthand flag: -q", "-q", NULL);
    expect_error("flag needs an argument: --kubeconfig", "--kubeconfig", NULL);
    expect_error("flag needs an argument: -n", "-n", NULL);
    expect_error("invalid argument \"ten\" for \"--workers\" flag: not an integer", "--workers",
                 "ten", NULL);
    expect_error("invalid argument \"10\" for \"--resync\" flag: time: missing unit in duration "
                 "\"10\"",
                 "--resync", "10", NULL);
    expect_error("invalid argument \"yaml\" for \"--log-format\" flag: want json or text",
                 "--log-format", "yaml", NULL);
    expect_error("invalid argument \"-1\" for \"-v\" flag: want a level from 0 to 100", "-v", "-1",
                 NULL);
    expect_error("invalid argument \"dc1\" for \"--cluster\" flag: want NAME=KUBECONFIG[:CONTEXT]",
                 "--cluster", "dc1", NULL);
    /* what the apiserver would refuse in every request fails at start */
    static const char *const bad_ns[] = {"a/b", "Upper", "-a", "a-", "", "a.b"};
    for (size_t i = 0; i < sizeof(bad_ns) / sizeof(bad_ns[0]); i++) {
        char want[200];
        snprintf(want, sizeof(want),
                 "invalid argument \"%s\" for \"--lease-namespace\" flag: not a namespace (lower "
                 "case alphanumerics and '-', at most 63)",
                 bad_ns[i]);
        expect_error(want, "--lease-namespace", bad_ns[i], NULL);
    }
    /* the hub's name goes into a label */
    static const char *const bad_hub[] = {
        "",
        "-a",
        "a-",
        "a/b",
        "a b",
        "_a",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof(bad_hub) / sizeof(bad_hub[0]); i++) {
        char want[300];
        snprintf(want, sizeof(want),
                 "invalid argument \"%s\" for \"--hub-name\" flag: not a label value (1 to 63 "
                 "letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
                 bad_hub[i]);
        expect_error(want, "--hub-name", bad_hub[i], NULL);
    }
    static const char *const bad_name[] = {"BAD NAME", "a..b", ".a", "a.", ""};
    for (size_t i = 0; i < sizeof(bad_name) / sizeof(bad_name[0]); i++) {
        char want[200];
        snprintf(want, sizeof(want),
                 "invalid argument \"%s\" for \"--lease-name\" flag: not a Lease name (lower case "
                 "alphanumerics, '-' and '.', at most 253)",
                 bad_name[i]);
        expect_error(want, "--lease-name", bad_name[i], NULL);
    }
    expect_error("invalid argument \"0s\" for \"--leader-elect-retry-period\" flag: want a "
                 "duration above 0",
                 "--leader-elect-retry-period", "0s", NULL);
    expect_error("invalid argument \"=/k\" for \"--cluster\" flag: the cluster name must be 1-63 "
                 "letters, digits, '-', '_' or '.'",
                 "--cluster", "=/k", NULL);
    expect_error("invalid argument \"a/b=/k\" for \"--cluster\" flag: the cluster name must be "
                 "1-63 letters, digits, '-', '_' or '.'",
                 "--cluster", "a/b=/k", NULL);
    expect_error("invalid argument \"dc1=\" for \"--cluster\" flag: no kubeconfig file",
                 "--cluster", "dc1=", NULL);
    expect_error("invalid argument \"dc1=/k:\" for \"--cluster\" flag: empty context after ':'",
                 "--cluster", "dc1=/k:", NULL);
    expect_error("cluster \"dc1\" given twice", "--cluster", "dc1=/a", "--cluster", "dc1=/b:c",
                 NULL);
    expect_error("cluster \"DC1\" given twice: \"dc1\" differs in case alone", "--cluster",
                 "dc1=/a", "--cluster", "DC1=/a", NULL);
    expect_error("invalid argument \"fast\" for \"--kube-api-qps\" flag: want a number of "
                 "requests per second (-1: no limit)",
                 "--kube-api-qps", "fast", NULL);
    expect_error("invalid argument \"1e999\" for \"--kube-api-qps\" flag: want a number of "
                 "requests per second (-1: no limit)",
                 "--kube-api-qps", "1e999", NULL);
    expect_error("invalid argument \"inf\" for \"--kube-api-qps\" flag: want a number of "
                 "requests per second (-1: no limit)",
                 "--kube-api-qps", "inf", NULL);
    expect_error("invalid argument \"nan\" for \"--kube-api-qps\" flag: want a number of "
                 "requests per second (-1: no limit)",
                 "--kube-api-qps", "nan", NULL);
    expect_error("invalid argument \"0\" for \"--kube-api-burst\" flag: want a number from 1 to "
                 "1000000",
                 "--kube-api-burst", "0", NULL);
    expect_error("invalid argument \"soon\" for \"--request-timeout\" flag: time: invalid "
                 "duration \"soon\"",
                 "--request-timeout", "soon", NULL);
    expect_error("invalid argument \"8080\" for \"--listen\" flag: want ADDR:PORT", "--listen",
                 "8080", NULL);
    expect_error("invalid argument \"::1:80\" for \"--listen\" flag: want ADDR:PORT", "--listen",
                 "::1:80", NULL);
    expect_error("invalid argument \"h:70000\" for \"--listen\" flag: want ADDR:PORT", "--listen",
                 "h:70000", NULL);
}
END_TEST

START_TEST(listen_forms_and_disabling)
{
    const char *ok[] = {"[::1]:8080", "0.0.0.0:0", ":80", "localhost:8443", "0", ""};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        kr_manager_config cfg;
        kr_error_t err = {0};
        ck_assert_msg(parse(&cfg, &err, "--listen", ok[i], NULL) == 0, "%s", err.message);
        ck_assert_str_eq(cfg.listen, ok[i]);
        kr_manager_config_free(&cfg);
    }
    /* HTTPS: a certificate and its key, as kube-apiserver names them */
    kr_manager_config cfg;
    kr_error_t err = {0};
    ck_assert_msg(
        parse(&cfg, &err, "--tls-cert-file", "c.pem", "--tls-private-key-file=k.pem", NULL) == 0,
        "%s", err.message);
    ck_assert_str_eq(cfg.tls_cert_file, "c.pem");
    ck_assert_str_eq(cfg.tls_private_key_file, "k.pem");
    kr_manager_config_free(&cfg);
    expect_error("invalid argument \"\" for \"--tls-cert-file\" flag: empty file name",
                 "--tls-cert-file=", NULL);
}
END_TEST

START_TEST(shared_flags_follow_the_program_mask)
{
    prog.shared = KR_MANAGER_FLAGS_HUB | KR_MANAGER_FLAGS_LOG;
    expect_error("unknown flag: --leader-elect", "--leader-elect", NULL);
    expect_error("unknown flag: --cluster", "--cluster", "a=/b", NULL);
    expect_error("unknown flag: --listen", "--listen", ":1", NULL);
    kr_manager_config cfg;
    kr_error_t err = {0};
    ck_assert_int_eq(parse(&cfg, &err, "--context", "c", "--v=2", NULL), 0);
    ck_assert_int_eq(cfg.verbosity, 2);
    kr_manager_config_free(&cfg);
    prog.shared = 0;
}
END_TEST

/* KR_MANAGER_FLAGS_AUTH is asked for, never implied by ALL. */
START_TEST(auth_flags_are_a_group_of_their_own)
{
    expect_error("unknown flag: --token-review", "--token-review", NULL);
    expect_error("unknown flag: --token-auth-file", "--token-auth-file", "f", NULL);
    expect_error("unknown flag: --authorization-review", "--authorization-review", NULL);
    prog.shared = KR_MANAGER_FLAGS_ALL | KR_MANAGER_FLAGS_AUTH;
    kr_manager_config cfg;
    kr_error_t err = {0};
    ck_assert_int_eq(parse(&cfg, &err, NULL), 0);
    ck_assert_ptr_null(cfg.token_auth_file);
    ck_assert(!cfg.token_review);
    ck_assert(!cfg.authorization_review);
    ck_assert_uint_eq(cfg.token_review_audiences.n, 0);
    kr_manager_config_free(&cfg);
    ck_assert_msg(parse(&cfg, &err, "--token-auth-file=t.csv", "--token-review",
                        "--token-review-audience", "a,,b", "--token-review-audience=c", NULL) == 0,
                  "%s", err.message);
    ck_assert_str_eq(cfg.token_auth_file, "t.csv");
    ck_assert(cfg.token_review);
    ck_assert_uint_eq(cfg.token_review_audiences.n, 3);
    ck_assert_str_eq(cfg.token_review_audiences.items[0], "a");
    ck_assert_str_eq(cfg.token_review_audiences.items[1], "b");
    ck_assert_str_eq(cfg.token_review_audiences.items[2], "c");
    ck_assert(!cfg.authorization_review);
    kr_manager_config_free(&cfg);
    ck_assert_msg(parse(&cfg, &err, "--authorization-review", NULL) == 0, "%s", err.message);
    ck_assert(cfg.authorization_review);
    kr_manager_config_free(&cfg);
    expect_error("invalid argument \"\" for \"--token-auth-file\" flag: empty file name",
                 "--token-auth-file=", NULL);
    expect_error("invalid argument \"maybe\" for \"--token-review\" flag: want true or false",
                 "--token-review=maybe", NULL);
    expect_error(
        "invalid argument \"sure\" for \"--authorization-review\" flag: want true or false",
        "--authorization-review=sure", NULL);
    prog.shared = 0;
}
END_TEST

/* The README says what --listen defaults to, the address the parser
 * gives, and why it is loopback. */
START_TEST(the_readme_names_the_default_listen_address)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    ck_assert_int_eq(parse(&cfg, &err, NULL), 0);
    char want[64];
    snprintf(want, sizeof(want), "default `%s`", cfg.listen);
    kr_manager_config_free(&cfg);
    FILE *f = fopen(KR_SOURCE_DIR "/README.md", "r");
    ck_assert_ptr_nonnull(f);
    static char readme[1 << 20];
    size_t n = fread(readme, 1, sizeof(readme) - 1, f);
    fclose(f);
    readme[n] = '\0';
    const char *at = strstr(readme, "`--listen ADDR:PORT`");
    ck_assert_ptr_nonnull(at);
    char part[1024];
    snprintf(part, sizeof(part), "%s", at);
    ck_assert_msg(strstr(part, want) && strstr(part, "Loopback, because"), "%s", part);
}
END_TEST

START_TEST(help_and_version)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    ck_assert_int_eq(parse(&cfg, &err, "--workers", "3", "-h", NULL), KR_MANAGER_ARGS_HELP);
    kr_manager_config_free(&cfg);
    ck_assert_int_eq(parse(&cfg, &err, "--version", NULL), KR_MANAGER_ARGS_VERSION);
    kr_manager_config_free(&cfg);
    /* A bad flag wins over --help: the user learns what is wrong. */
    ck_assert_int_eq(parse(&cfg, &err, "--help", "--bogus", NULL), KR_EINVAL);
    kr_manager_config_free(&cfg);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_int_eq(kr_manager_args_exit(&prog, KR_MANAGER_ARGS_HELP, NULL, out, stderr), 0);
    fclose(out);
    ck_assert_msg(strstr(text, "kr-test - a program for tests") != NULL, "%s", text);
    ck_assert(strstr(text, "Usage:\n  kr-test [flags] ARGS...\n") != NULL);
    ck_assert(strstr(text, "  -n, --namespace NS") != NULL);
    ck_assert(strstr(text, "namespace to watch (default \"default\")") != NULL);
    ck_assert(strstr(text, "--resync DURATION") != NULL);
    ck_assert(strstr(text, "resync period (default 10m0s)") != NULL);
    ck_assert(strstr(text, "worker threads (default 3)") != NULL);
    ck_assert(strstr(text, "--cluster NAME=KUBECONFIG[:CONTEXT]") != NULL);
    ck_assert(strstr(text, "  -v LEVEL") != NULL);
    ck_assert(strstr(text, "--lease-name NAME") != NULL);
    ck_assert(strstr(text, "(default \"kr-test\")") != NULL);
    ck_assert(strstr(text, "  -h, --help") != NULL);
    /* the endpoint's default, and why a pod gives another */
    ck_assert_msg(strstr(text, "the default is loopback only: in a pod, give 0.0.0.0:PORT for the "
                               "kubelet's probes (default \"127.0.0.1:8080\")") != NULL,
                  "%s", text);
    free(text);

    out = open_memstream(&text, &len);
    ck_assert_int_eq(kr_manager_args_exit(&prog, KR_MANAGER_ARGS_VERSION, NULL, out, stderr), 0);
    fclose(out);
    ck_assert_str_eq(text, "kr-test (libkreconcile " KR_VERSION_STRING ")\n");
    free(text);

    /* The program's own version, and the library's */
    prog.version = "1.4.2";
    out = open_memstream(&text, &len);
    ck_assert_int_eq(kr_manager_args_exit(&prog, KR_MANAGER_ARGS_VERSION, NULL, out, stderr), 0);
    fclose(out);
    prog.version = NULL;
    ck_assert_str_eq(text, "kr-test version 1.4.2 (libkreconcile " KR_VERSION_STRING ")\n");
    free(text);
}
END_TEST

START_TEST(bad_flags_exit_2_with_a_hint_on_stderr)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    int rc = parse(&cfg, &err, "--nope", NULL);
    char *o_text = NULL, *e_text = NULL;
    size_t o_len = 0, e_len = 0;
    FILE *out = open_memstream(&o_text, &o_len);
    FILE *errout = open_memstream(&e_text, &e_len);
    ck_assert_int_eq(kr_manager_args_exit(&prog, rc, &err, out, errout), 2);
    fclose(out);
    fclose(errout);
    ck_assert_str_eq(o_text, "");
    ck_assert_str_eq(e_text, "kr-test: unknown flag: --nope\nRun 'kr-test --help' for usage.\n");
    free(o_text);
    free(e_text);
    kr_manager_config_free(&cfg);
}
END_TEST

static int parse_with_failures(void *arg)
{
    (void)arg;
    kr_manager_config cfg;
    kr_error_t err = {0};
    int rc = parse(&cfg, &err, "--cluster", "a=/x:c", "--cluster", "b=/y", "-l", "p,q", "-f", "r",
                   "pos1", "pos2", NULL);
    kr_manager_config_free(&cfg);
    teardown_program();
    po.labels = (kr_flag_strings){0};
    po.files = (kr_flag_strings){0};
    return rc == 0 || rc == KR_ENOMEM ? 0 : 1;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    kr_test_failalloc_install();
    long runs = kr_test_alloc_failure_sweep(parse_with_failures, NULL);
    kr_test_failalloc_uninstall();
    ck_assert_msg(runs > 5, "sweep result %ld", runs);
}
END_TEST

/* ---- log sink ------------------------------------------------------------- */

static char *log_lines(kr_log_format format, void (*emit)(const kr_logger *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    kr_log_sink_t *sink;
    kr_logger logger;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_log_sink_new(out, format, KR_LOG_DEBUG, &sink, &logger, &err), 0);
    emit(&logger);
    kr_log_sink_free(sink);
    fclose(out);
    return text;
}

static void emit_some(const kr_logger *logger)
{
    kr_log(logger, KR_LOG_INFO, "client", "plain \"quoted\"\nsecond line");
    kr_log_field f[] = {{"controller", "syncer"}, {"cluster", "dc1"},
                        {"key", "ns/x y"},        {"msg", "clash"},
                        {"skipped", NULL},        {"error", "conflict: \\ \x01"}};
    kr_log_fields(logger, KR_LOG_WARN, "controller", f, 6, "reconcile failed %d", 3);
    kr_log(logger, KR_LOG_TRACE, "x", "filtered out");
    kr_log(logger, KR_LOG_ERROR, "bad", "invalid utf-8 \xff\xfe here");
}

static void check_ts(const char *ts)
{
    /* 2026-12-03T09:15:02.123Z */
    ck_assert_uint_eq(strlen(ts), 24);
    ck_assert_msg(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':' &&
                      ts[19] == '.' && ts[23] == 'Z',
                  "%s", ts);
}

START_TEST(json_lines_carry_the_fields_as_members)
{
    char *text = log_lines(KR_LOG_FORMAT_JSON, emit_some);
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        ck_assert_msg(o != NULL, "line %d is not JSON: %s (%s)", n, line, jerr.text);
        check_ts(json_string_value(json_object_get(o, "ts")));
        const char *keys[4] = {"ts", "level", "logger", "msg"};
        const char *k;
        json_t *v;
        int i = 0;
        json_object_foreach(o, k, v)
        {
            if (i < 4)
                ck_assert_str_eq(k, keys[i]); /* the fixed members come first, in order */
            i++;
        }
        if (n == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "info");
            ck_assert_str_eq(json_string_value(json_object_get(o, "logger")), "client");
            ck_assert_str_eq(json_string_value(json_object_get(o, "msg")),
                             "plain \"quoted\"\nsecond line");
        } else if (n == 1) {
            ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
            ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), "reconcile failed 3");
            ck_assert_str_eq(json_string_value(json_object_get(o, "controller")), "syncer");
            ck_assert_str_eq(json_string_value(json_object_get(o, "cluster")), "dc1");
            ck_assert_str_eq(json_string_value(json_object_get(o, "key")), "ns/x y");
            ck_assert_str_eq(json_string_value(json_object_get(o, "field.msg")), "clash");
            ck_assert_str_eq(json_string_value(json_object_get(o, "error")), "conflict: \\ \x01");
            ck_assert_ptr_null(json_object_get(o, "skipped"));
        } else {
            ck_assert_str_eq(json_string_value(json_object_get(o, "msg")), "invalid utf-8 ?? here");
        }
        json_decref(o);
        n++;
    }
    ck_assert_int_eq(n, 3);
    free(text);
}
END_TEST

START_TEST(text_lines_keep_one_message_per_line)
{
    char *text = log_lines(KR_LOG_FORMAT_TEXT, emit_some);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    ck_assert_ptr_nonnull(line);
    line[24] = '\0';
    check_ts(line);
    ck_assert_str_eq(line + 25, "INFO  client: plain \"quoted\"\\nsecond line");
    line = strtok_r(NULL, "\n", &save);
    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line + 25,
                     "WARN  controller: reconcile failed 3 controller=syncer cluster=dc1 "
                     "key=\"ns/x y\" msg=clash error=\"conflict: \\\\ \\x01\"");
    line = strtok_r(NULL, "\n", &save);
    ck_assert_ptr_nonnull(line);
    ck_assert(strncmp(line + 25, "ERROR bad: invalid utf-8", 24) == 0);
    ck_assert_ptr_null(strtok_r(NULL, "\n", &save));
    free(text);
}
END_TEST

/* The sink of the shared flags: their format and verbosity, as the
 * manager's own. */
START_TEST(the_flags_sink_follows_log_format_and_verbosity)
{
    const char *cases[][2] = {{"-v=0", "INFO "}, {"-v=2", "DEBUG"}, {"-v=4", "TRACE"}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        kr_manager_config cfg;
        kr_error_t err = {0};
        ck_assert_int_eq(parse(&cfg, &err, "--log-format=text", cases[c][0], NULL), 0);
        FILE *f = tmpfile();
        ck_assert_ptr_nonnull(f);
        kr_log_sink_t *sink = NULL;
        kr_logger logger;
        ck_assert_int_eq(kr_manager_config_log_sink(&cfg, f, &sink, &logger, &err), 0);
        kr_log(&logger, KR_LOG_INFO, "m", "info");
        kr_log(&logger, KR_LOG_DEBUG, "m", "debug");
        kr_log(&logger, KR_LOG_TRACE, "m", "trace");
        kr_log_sink_free(sink);
        char text[1024] = "";
        rewind(f);
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        ck_assert_msg(!strstr(text, "{\"ts\""), "%s", text); /* text, not JSON */
        /* the most verbose line written is the level the flag allows */
        const char *last = strrchr(text, '\n');
        ck_assert_ptr_nonnull(last);
        const char *prev = last;
        while (prev > text && prev[-1] != '\n')
            prev--;
        ck_assert_msg(strncmp(prev + 25, cases[c][1], 5) == 0, "%s: %s", cases[c][0], text);
        kr_manager_config_free(&cfg);
    }
    kr_error_t err = {0};
    kr_log_sink_t *sink = NULL;
    kr_logger logger;
    ck_assert_int_eq(kr_manager_config_log_sink(NULL, stderr, &sink, &logger, &err), KR_EINVAL);
}
END_TEST

#define LOG_THREADS 4
#define LOG_LINES 500

static void *log_from_thread(void *arg)
{
    const kr_logger *logger = arg;
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < LOG_LINES; i++) {
        kr_log_field f[] = {{"i", "v"}, {"big", big}};
        kr_log_fields(logger, KR_LOG_INFO, "t", f, 2, "line %d", i);
    }
    return NULL;
}

static void emit_threaded(const kr_logger *logger)
{
    pthread_t t[LOG_THREADS];
    for (int i = 0; i < LOG_THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, log_from_thread, (void *)logger), 0);
    for (int i = 0; i < LOG_THREADS; i++)
        pthread_join(t[i], NULL);
}

START_TEST(lines_from_many_threads_never_interleave)
{
    char *text = log_lines(KR_LOG_FORMAT_JSON, emit_threaded);
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        ck_assert_msg(o != NULL, "a broken line: %.80s", line);
        ck_assert_uint_eq(strlen(json_string_value(json_object_get(o, "big"))), 599);
        json_decref(o);
        n++;
    }
    ck_assert_int_eq(n, LOG_THREADS * LOG_LINES);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("manager_flags");
    TCase *tc = tcase_create("durations");
    tcase_add_test(tc, durations_parse_as_go_does);
    tcase_add_test(tc, bad_durations_are_refused_with_the_input_named);
    tcase_add_test(tc, durations_format_as_go_does);
    suite_add_tcase(s, tc);
    tc = tcase_create("flags");
    tcase_add_checked_fixture(tc, setup_program, teardown_program);
    tcase_add_test(tc, defaults_without_arguments);
    tcase_add_test(tc, shared_and_program_flags_in_both_spellings);
    tcase_add_test(tc, bool_flags_take_only_attached_values);
    tcase_add_test(tc, bad_flags_give_one_clear_line);
    tcase_add_test(tc, listen_forms_and_disabling);
    tcase_add_test(tc, shared_flags_follow_the_program_mask);
    tcase_add_test(tc, auth_flags_are_a_group_of_their_own);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, the_readme_names_the_default_listen_address);
    tcase_add_test(tc, bad_flags_exit_2_with_a_hint_on_stderr);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    tcase_add_test(tc, the_flags_sink_follows_log_format_and_verbosity);
    suite_add_tcase(s, tc);
    tc = tcase_create("log");
    tcase_add_test(tc, json_lines_carry_the_fields_as_members);
    tcase_add_test(tc, text_lines_keep_one_message_per_line);
    tcase_add_test(tc, lines_from_many_threads_never_interleave);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
