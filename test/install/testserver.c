/* Built by the install test against the installed headers, the shared
 * library and the test-server archive only (pkg-config
 * libkreconcile-testserver): starts a server, loads an object and reads it
 * back through the library's client. */
#include <kreconcile.h>
#include <kreconcile/testserver.h>
#include <stdio.h>
#include <string.h>

static const char manifest[] = "apiVersion: v1\n"
                               "kind: ConfigMap\n"
                               "metadata: {name: hello, namespace: default}\n"
                               "data: {greeting: hi}\n";

int main(void)
{
    kr_error_t err = {0};
    kr_testserver_opts opts = {0};
    kr_testserver_t *ts = NULL;
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    json_t *got = NULL;
    int status = 1;
    if (kr_testserver_start(&opts, &ts, &err) != 0 ||
        kr_testserver_load(ts, manifest, strlen(manifest), &err) != 0) {
        fprintf(stderr, "test server: %s\n", err.message);
        goto out;
    }
    kr_runtime_opts ro = {0};
    kr_rest_config cfg = {.server = (char *)kr_testserver_url(ts), .qps = -1};
    if (kr_runtime_new(&ro, &rt, &err) != 0 || kr_runtime_start(rt, &err) != 0 ||
        kr_client_new(rt, &cfg, NULL, &c, &err) != 0 ||
        kr_client_get(c, KR_GVR("", "v1", "configmaps"), "default", "hello", &got, &err) != 0) {
        fprintf(stderr, "client: %s\n", err.message);
        goto out;
    }
    const char *v = json_string_value(json_object_get(json_object_get(got, "data"), "greeting"));
    if (!v || strcmp(v, "hi") != 0) {
        fprintf(stderr, "unexpected object\n");
        goto out;
    }
    printf("test server %s served ConfigMap default/hello\n", kr_testserver_url(ts));
    status = 0;
out:
    json_decref(got);
    kr_client_free(c);
    if (rt)
        kr_runtime_stop(rt);
    kr_runtime_free(rt);
    kr_testserver_free(ts);
    kr_error_clear(&err);
    return status;
}
