/* What the platform's four programs do alike at start-up: each opens its
 * inventory before its manager, so a database that is not up yet is
 * waited for (--inventory-wait) in the log format of --log-format, and a
 * SIGTERM during that wait ends the program at once (by the signal), not
 * after the wait. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"

static char tmpdir[256];

static void setup(void)
{
    ck_assert(kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-programs"));
}

static void teardown(void)
{
    kr_test_tmpdir_remove(tmpdir);
    tmpdir[0] = '\0';
}

/* Nothing listens on port 1: every connection is refused at once. */
#define UNREACHABLE "postgresql://inv:s3cret@127.0.0.1:1/inventory"

/* Start argv, wait for its first retry in the log, stop it with SIGTERM:
 * it must end by that signal. Waiting 20 s, a program that took the
 * signal only after the wait would end with status 2 instead. */
static void stops_during_the_wait(const char *const *argv)
{
    char log[512];
    snprintf(log, sizeof(log), "%s/%s.log", tmpdir, argv[0]);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, log, argv);
    bool retried = kr_test_proc_log_wait(&p, "trying again in", 0, 30000);
    int status = kr_test_proc_kill(&p, SIGTERM);
    char *text = kr_test_proc_log_text(&p);
    kr_test_proc_free(&p);
    ck_assert_msg(retried, "%s: no retry logged: %s", argv[0], text);
    ck_assert_msg(status == 128 + SIGTERM, "%s: status %d, not ended by SIGTERM: %s", argv[0],
                  status, text);
    /* --log-format text: the inventory logs through the program's sink */
    ck_assert_msg(strstr(text, "cannot connect") && !strstr(text, "{\"ts\""), "%s: %s", argv[0],
                  text);
    ck_assert_msg(!strstr(text, "s3cret"), "%s: the password is logged: %s", argv[0], text);
    free(text);
}

#define WAITING "--inventory", UNREACHABLE, "--inventory-wait=20s", "--log-format=text"

START_TEST(a_sigterm_during_the_database_wait_ends_each_program_at_once)
{
    char kubeconfig[512];
    snprintf(kubeconfig, sizeof(kubeconfig), "dc1=%s/dc1.kubeconfig", tmpdir);
    const char *inventory[] = {"kr-inventory", WAITING, "--listen", "0", NULL};
    stops_during_the_wait(inventory);
    const char *syncer[] = {"kr-syncer", WAITING, "--listen", "0", "--cluster", kubeconfig, NULL};
    stops_during_the_wait(syncer);
    const char *sweeper[] = {"kr-sweeper", WAITING, "--listen", "0", "--cluster", kubeconfig, NULL};
    stops_during_the_wait(sweeper);
    kr_test_write_file(tmpdir, "tokens.csv", "t0k3n,alice,1,\"ops\"\n");
    char tokens[512];
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", tmpdir);
    const char *submitter[] = {
        "kr-submitter",      "serve", WAITING, "--listen", "0", "--cluster", kubeconfig,
        "--token-auth-file", tokens,  NULL};
    stops_during_the_wait(submitter);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("programs");
    TCase *tc = tcase_create("start-up");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_sigterm_during_the_database_wait_ends_each_program_at_once);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
