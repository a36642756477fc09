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
static json_t *doc, *pod, *patch;
static kr_metrics_registry_t *registry;
static const char *path_or_null;
static kr_rest_config *cfg;
static kr_client_t *client;
static kr_queue_t *queue;
static const char *rv;
static const char *cert, *key, *yaml_text;

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
