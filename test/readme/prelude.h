/* What the README's API tour snippets take as given: the headers, and the
 * variables and functions a program around them would have. Every snippet
 * is compiled inside a function of its own after this prelude
 * (test/readme-test.sh), so that the tour cannot drift from the API. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile.h"
#include "kreconcile/testserver.h"

/* Values a program would have made earlier. */
static kr_error_t err;
static json_t *doc, *pod, *patch, *job;
static kr_metrics_registry_t *registry;
static const char *path_or_null;
static kr_rest_config *cfg;
static kr_client_t *client;
static kr_queue_t *queue;
static const char *rv;
static const char *cert, *key, *yaml_text;
static kr_informer_t *jobs, *jobs_dc1, *pods_dc1;
static kr_controller_t *ctl;
static kr_manager_t *manager;
static void *app;

/* Functions a program would define. */
static int reconcile(const char *k)
{
    return k == NULL;
}

static void die(const char *message)
{
    fprintf(stderr, "%s\n", message);
    exit(1);
}

static void enqueue_add(const json_t *obj, void *user)
{
    (void)obj;
    (void)user;
}

static void enqueue_update(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)old_obj;
    (void)new_obj;
    (void)user;
}

static void enqueue_delete(const json_t *obj, bool final_state_unknown, void *user)
{
    (void)obj;
    (void)final_state_unknown;
    (void)user;
}

static int ensure_pod(const json_t *job, kr_error_t *e)
{
    return job ? 0 : kr_error_set(e, KR_ENOTFOUND, "no job");
}

static void start_workers(const kr_leader_term *term, void *user)
{
    (void)term;
    (void)user;
}

static void stop_and_exit(void *user)
{
    (void)user;
}

static void write_with_epoch(uint64_t epoch)
{
    (void)epoch;
}

static void stop_workers(void *user)
{
    (void)user;
}
