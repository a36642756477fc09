/* libkreconcile-testserver — writes a kubeconfig that points kubectl and
 * clients at this server: URL, the server certificate as the CA to trust,
 * the first bearer token (of `tokens`, else of the token file), a context with a default namespace.
 */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

static void write_user(FILE *f, const kr_testserver_t *ts)
{
    fprintf(f, "users:\n- name: kr-testserver\n  user:");
    const kr_token_user *first = kr_token_file_user(ts->token_file, 0);
    if (ts->ntokens == 0 && !first) {
        fprintf(f, " {}\n");
        return;
    }
    const char *tok = ts->ntokens ? ts->tokens[0] : first->token;
    const char *colon = strchr(tok, ':');
    int len = colon ? (int)(colon - tok) : (int)strlen(tok);
    fprintf(f, "\n    token: \"%.*s\"\n", len, tok);
}

int kr_testserver_write_kubeconfig(const kr_testserver_t *ts, const char *path,
                                   const char *namespace_name, kr_error_t *err)
{
    char *ca = ts->cert_pem ? kr_base64_encode(ts->cert_pem, strlen(ts->cert_pem), false) : NULL;
    if (ts->cert_pem && !ca)
        return kr_error_set(err, KR_ENOMEM, "out of memory writing kubeconfig %s", path);
    FILE *f = fopen(path, "w");
    if (!f) {
        kr_free(ca);
        return kr_error_set(err, KR_EIO, "cannot write kubeconfig %s", path);
    }
    fprintf(f,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kr-testserver\n  cluster:\n"
            "    server: %s\n",
            ts->url);
    if (ca)
        fprintf(f, "    certificate-authority-data: %s\n", ca);
    write_user(f, ts);
    fprintf(f,
            "contexts:\n- name: kr-testserver\n  context:\n    cluster: kr-testserver\n"
            "    user: kr-testserver\n    namespace: %s\ncurrent-context: kr-testserver\n",
            namespace_name ? namespace_name : "default");
    kr_free(ca);
    if (fclose(f) != 0)
        return kr_error_set(err, KR_EIO, "cannot write kubeconfig %s", path);
    return 0;
}
