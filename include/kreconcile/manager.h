/* libkreconcile — the program toolkit (controller-runtime's Manager): one
 * runtime, a client and informer factory per cluster (a hub and N workload
 * clusters), the controllers and other runnables, optional leader election,
 * and one HTTP endpoint (libmicrohttpd) serving /healthz, /livez, /readyz
 * (kube-apiserver's text: "ok", or with ?verbose or on a failure each
 * check's line, a failed one's reason withheld; ?exclude=NAME skips one;
 * each check alone with its reason: /readyz/<name>, /healthz/ping, /livez/ping),
 * /metrics and the program's own routes (256 connections at most, 128 of them from
 * one peer, each closed after 30 s without traffic, or 10 s until it has
 * sent a full request's headers, so that one client's idle or half-open
 * connections cannot starve the kubelet's probes). Plus what every
 * program shares: the command-line conventions, Go-style durations, JSON
 * or text logs, and a graceful stop on SIGINT/SIGTERM. A program's main()
 * reads like a controller-runtime main.go:
 *
 *     kr_manager_config cfg;
 *     int rc = kr_manager_parse_args(&program, argc, argv, &cfg, &err);
 *     if (rc != 0) {                            // *cfg is filled in every case
 *         int code = kr_manager_args_exit(&program, rc, &err, stdout, stderr);
 *         kr_manager_config_free(&cfg);
 *         return code;
 *     }
 *     kr_manager_opts mo = KR_MANAGER_OPTS_INIT;
 *     mo.program = &program;
 *     mo.config = &cfg;
 *     kr_manager_t *m;
 *     if (kr_manager_new(&mo, &m, &err) != 0) {
 *         fprintf(stderr, ...);
 *         kr_manager_config_free(&cfg);
 *         return 2;
 *     }
 *     ... kr_manager_informer(), kr_manager_add_controller(), kr_manager_add_route() ...
 *     int code = kr_manager_run(m);            // until a signal or lost leadership
 *     kr_manager_free(m);
 *     kr_manager_config_free(&cfg);
 *     return code;
 *
 * Threading: the manager owns the runtime's loop thread, the HTTP server's
 * threads and the controllers' workers; kr_manager_run blocks the calling
 * (main) thread. Functions may be called from any thread unless they say
 * otherwise. This module may print: only kr_manager_args_exit and the
 * default log sink write, to the streams the program gives them. */
#ifndef KRECONCILE_MANAGER_H
#define KRECONCILE_MANAGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "accessreview.h"
#include "client.h"
#include "common.h"
#include "controller.h"
#include "events.h"
#include "informer.h"
#include "leader.h"
#include "metrics.h"
#include "runtime.h"
#include "tokenreview.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Durations ------------------------------------------------------------ */

/* Parse a Go duration ("90s", "10m", "1h30m", "1.5h", "250ms", "0"; units
 * ns, us, µs, ms, s, m, h) into milliseconds: a total with a fraction of a
 * millisecond is rounded up to the next one ("1500us" is 2), but never
 * past Go's maximum (2562047h47m16.854s). Negative durations ("-0s" is 0)
 * and overflow are refused. Errors: KR_EPARSE (message names the input).
 * [any thread] */
KR_API int kr_duration_parse(const char *text, uint64_t *out_ms, kr_error_t *err);

/* Format milliseconds as Go does ("1h30m0s", "1.5s", "0s") into `buf`
 * (NUL-terminated, truncated to `len`). Returns `buf`. [any thread] */
KR_API char *kr_duration_format(uint64_t ms, char *buf, size_t len);

/* ---- Flags ------------------------------------------------------------------ */

typedef enum kr_flag_type {
    KR_FLAG_BOOL = 0, /* value: bool *; "--x", "--x=true|false" */
    KR_FLAG_STRING = 1, /* value: const char ** (borrowed from argv) */
    KR_FLAG_STRINGS = 2, /* value: kr_flag_strings *; repeatable, also "a,b" when split_commas */
    KR_FLAG_INT = 3, /* value: long * */
    KR_FLAG_DURATION = 4, /* value: uint64_t * (ms), Go syntax */
} kr_flag_type;

/* A repeatable string flag's values: `items` is new, one allocation that
 * also holds the strings (split_commas cuts argv's text into pieces);
 * kr_flag_strings_free frees it. A default left in the value is the
 * program's: replaced, not freed, when the flag is given. */
typedef struct kr_flag_strings {
    const char **items;
    size_t n;
} kr_flag_strings;

KR_API void kr_flag_strings_free(kr_flag_strings *s);

/* One flag of a program. `name` without dashes ("namespace"); `shorthand`
 * an optional one-letter alias ('n' for "-n"), 0 for none. `value` points
 * at the program's storage, already holding the default. Fill it with
 * designated initialisers ({.name = "workers", .type = KR_FLAG_INT, ...}):
 * the field order is not part of the contract. */
typedef struct kr_flag {
    const char *name;
    void *value;
    const char *metavar; /* in --help: "--namespace NS"; NULL: from the type */
    const char *help; /* one line; the default is appended from *value */
    kr_flag_type type;
    char shorthand;
    bool split_commas; /* KR_FLAG_STRINGS: "a,b" gives two values */
} kr_flag;

/* Which of the shared flags a program (or one of its verbs) takes. */
/* --kubeconfig, --context, --kube-api-qps, --kube-api-burst, --request-timeout */
#define KR_MANAGER_FLAGS_HUB 0x01u
#define KR_MANAGER_FLAGS_CLUSTERS 0x02u /* --cluster NAME=KUBECONFIG[:CONTEXT] */
#define KR_MANAGER_FLAGS_LEADER                                                                    \
    0x04u /* --leader-elect, --lease-namespace, --lease-name, --leader-elect-lease-duration,       \
             --leader-elect-renew-deadline, --leader-elect-retry-period */
/* --listen ADDR:PORT, --tls-cert-file, --tls-private-key-file */
#define KR_MANAGER_FLAGS_LISTEN 0x08u
#define KR_MANAGER_FLAGS_LOG 0x10u /* --log-format json|text, -v LEVEL */
#define KR_MANAGER_FLAGS_ALL 0x1fu
/* --token-auth-file, --token-review, --token-review-audience: who may call
 * the program's own HTTP API (kr_manager_token_file, _token_reviewer);
 * --authorization-review: what each caller may do there
 * (kr_manager_access_reviewer).
 * Not in KR_MANAGER_FLAGS_ALL: a program that serves an API asks for it. */
#define KR_MANAGER_FLAGS_AUTH 0x20u
/* None of the above (a CLI verb): only --help and --version. */
#define KR_MANAGER_FLAGS_NONE 0x80u

/* A program's description for the argument parser and --help. Every
 * program also gets --help/-h and --version. */
typedef struct kr_manager_program {
    const char *name; /* "kr-syncer" */
    const char *summary; /* one line under the usage line */
    const char *usage; /* after the name: "[flags]" or "serve [flags] | submit -f FILE" */
    const char *description; /* optional paragraphs after the summary */
    const kr_flag *flags; /* the program's own flags */
    size_t n_flags;
    unsigned shared; /* KR_MANAGER_FLAGS_* it takes; 0 = KR_MANAGER_FLAGS_ALL */
    const char *default_lease_name; /* NULL: the program's name */
    /* NULL: "127.0.0.1:8080", loopback: the endpoint may serve an API
     * (a pod gives --listen 0.0.0.0:PORT for the kubelet's probes) */
    const char *default_listen;
    /* Positional arguments are refused ("kr-syncer" does not take any
     * arguments, got ["extra"]), as a Kubernetes component refuses them;
     * false: they are left in kr_manager_config.args for the program. */
    bool no_args;
    /* The program's own version ("1.4.2"), printed by --version with the
     * library's: "kr-syncer version 1.4.2 (libkreconcile 0.1.0)"; NULL:
     * the library's alone ("kr-syncer (libkreconcile 0.1.0)"). */
    const char *version;
    /* The defaults the program gives kr_manager_opts, for --help to state
     * (the program still sets the options): request_timeout_ms (0: none,
     * said "(default 0)"), client_qps and client_burst (0: the library's,
     * said "the kubeconfig's, else 20" and "... else 30"). */
    uint64_t default_request_timeout_ms;
    double default_qps;
    int default_burst;
} kr_manager_program;

/* One --cluster argument. Strings are new (freed by kr_manager_config_free).
 * NAME is 1-63 letters, digits, '-', '_' or '.'; the CONTEXT follows the
 * first ':' after '=' (kubeconfig paths cannot hold ':', as in $KUBECONFIG;
 * context names may, as EKS's "arn:aws:eks:...:cluster/x"). */
typedef struct kr_manager_cluster_arg {
    char *name;
    char *kubeconfig;
    char *context; /* NULL: the kubeconfig's current context */
} kr_manager_cluster_arg;

typedef enum kr_log_format {
    KR_LOG_FORMAT_JSON = 0,
    KR_LOG_FORMAT_TEXT = 1,
} kr_log_format;

/* The shared flags, parsed. String members are borrowed from argv unless
 * stated; kr_manager_config_free releases what parsing allocated. */
typedef struct kr_manager_config {
    const char *kubeconfig; /* --kubeconfig; NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
    const char *context; /* --context */
    kr_manager_cluster_arg *clusters; /* --cluster, in order given */
    size_t n_clusters;
    bool leader_elect; /* --leader-elect */
    const char *lease_namespace; /* --lease-namespace; default: the hub context's namespace */
    const char *lease_name; /* --lease-name; default: program's default_lease_name */
    const char *listen; /* --listen ADDR:PORT; "" or "0" disables; default program's */
    kr_log_format log_format; /* --log-format; default json */
    int verbosity; /* -v N: 0 info, 1-3 debug, 4+ trace; default 0 */
    char **args; /* positional arguments in order (borrowed from argv; array new) */
    size_t n_args;
    /* --kube-api-qps, --kube-api-burst: every client's rate limit (0: the
     * kubeconfig's, else 20 and 30, controller-runtime's defaults up to
     * v0.20; a qps < 0 disables it). */
    double kube_api_qps;
    long kube_api_burst;
    /* --request-timeout: each request of every client (hub and clusters),
     * retries included; watches never time out. Set: given on the command
     * line (0: none); else kr_manager_opts.request_timeout_ms. */
    uint64_t request_timeout_ms;
    bool request_timeout_set;
    /* KR_MANAGER_FLAGS_AUTH */
    const char *token_auth_file; /* --token-auth-file */
    bool token_review; /* --token-review */
    kr_flag_strings token_review_audiences; /* --token-review-audience (new) */
    /* --hub-name: the hub's name in the source-cluster label, keys and
     * logs; NULL: kr_manager_opts.hub_name's, else "hub". */
    const char *hub_name;
    bool authorization_review; /* --authorization-review (KR_MANAGER_FLAGS_AUTH) */
    /* --tls-cert-file, --tls-private-key-file (KR_MANAGER_FLAGS_LISTEN):
     * PEM files; both given, the endpoint serves HTTPS only */
    const char *tls_cert_file;
    const char *tls_private_key_file;
    /* --leader-elect-lease-duration, --leader-elect-renew-deadline,
     * --leader-elect-retry-period (KR_MANAGER_FLAGS_LEADER): the Lease's
     * timing, as kube-controller-manager's flags set it; 0: kr_leader's
     * defaults (15 s, 10 s, 2 s). */
    uint64_t leader_lease_duration_ms;
    uint64_t leader_renew_deadline_ms;
    uint64_t leader_retry_period_ms;
} kr_manager_config;

/* Returned (positive) by kr_manager_parse_args. */
#define KR_MANAGER_ARGS_HELP 1 /* --help was given */
#define KR_MANAGER_ARGS_VERSION 2 /* --version was given */

/* Parse argv: the shared flags the program takes, its own flags (written
 * through kr_flag.value), and positional arguments. "--flag value" and
 * "--flag=value" both work; "--" ends the flags. Returns 0 to run,
 * KR_MANAGER_ARGS_HELP or KR_MANAGER_ARGS_VERSION, or KR_EINVAL with one
 * clear line in err->message (unknown flag, missing value, bad duration,
 * malformed --cluster, a duplicate cluster name). *cfg is filled in every
 * case and must be freed with kr_manager_config_free. [any thread] */
KR_API int kr_manager_parse_args(const kr_manager_program *prog, int argc, char **argv,
                                 kr_manager_config *cfg, kr_error_t *err);

/* What a program does when kr_manager_parse_args did not return 0: print
 * the usage to `out` (help), the program's name and version and the
 * library's to `out` (kr_manager_program.version), or "NAME: MESSAGE" and
 * a hint to `errout` (bad flags). Returns the exit code: 0 or 2. */
KR_API int kr_manager_args_exit(const kr_manager_program *prog, int rc, const kr_error_t *err,
                                FILE *out, FILE *errout);

/* Write the --help text to `out`. */
KR_API void kr_manager_write_usage(const kr_manager_program *prog, FILE *out);

/* Free what parsing allocated. NULL and a zero config are fine. */
KR_API void kr_manager_config_free(kr_manager_config *cfg);

/* ---- Logging ------------------------------------------------------------------ */

/* A log sink writing one line per message to `out`: JSON
 * ({"ts":"2026-12-03T09:15:02.123Z","level":"info","logger":"controller",
 * "msg":"...", then the fields}) or text. Thread-safe; lines never
 * interleave. *out_logger is filled to use it; kr_log_sink_free
 * after everything logging through it is freed. Errors: KR_ENOMEM. */
typedef struct kr_log_sink kr_log_sink_t;
KR_API int kr_log_sink_new(FILE *out, kr_log_format format, kr_log_level max_level,
                           kr_log_sink_t **sink, kr_logger *out_logger, kr_error_t *err);
KR_API void kr_log_sink_free(kr_log_sink_t *sink);

/* The sink kr_manager_new makes when kr_manager_opts.logger is zero: on
 * `out`, in cfg->log_format, at cfg->verbosity. For what a program opens
 * before its manager (a database it may wait for, while SIGTERM still
 * ends the process): log through *out_logger there, pass it as
 * kr_manager_opts.logger, and free the sink after both. Errors:
 * KR_EINVAL, KR_ENOMEM. */
KR_API int kr_manager_config_log_sink(const kr_manager_config *cfg, FILE *out, kr_log_sink_t **sink,
                                      kr_logger *out_logger, kr_error_t *err);

/* ---- HTTP routes -------------------------------------------------------------- */

typedef struct kr_http_request kr_http_request_t;
typedef struct kr_http_response kr_http_response_t;

/* Request accessors; every string is borrowed for the handler call. */
KR_API const char *kr_http_request_method(const kr_http_request_t *req);
KR_API const char *kr_http_request_path(const kr_http_request_t *req); /* decoded, no query */
/* A query parameter's (first) value, NULL when absent. */
KR_API const char *kr_http_request_query(const kr_http_request_t *req, const char *name);
/* Every query parameter: calls cb(name, value, user) for each in order. */
typedef void (*kr_http_query_cb)(const char *name, const char *value, void *user);
KR_API void kr_http_request_query_each(const kr_http_request_t *req, kr_http_query_cb cb,
                                       void *user);
/* A header's value (case-insensitive name), NULL when absent. */
KR_API const char *kr_http_request_header(const kr_http_request_t *req, const char *name);
/* The request body (NULL, 0 when none); at most the endpoint's max body. */
KR_API const char *kr_http_request_body(const kr_http_request_t *req, size_t *len);
/* The client's address as text, e.g. "127.0.0.1". */
KR_API const char *kr_http_request_peer(const kr_http_request_t *req);

/* Answer with `len` bytes of `body` (copied) and a Content-Type. */
KR_API int kr_http_respond(kr_http_response_t *resp, int status, const char *content_type,
                           const char *body, size_t len);
/* Answer with a JSON document (borrowed; serialised compactly). */
KR_API int kr_http_respond_json(kr_http_response_t *resp, int status, const json_t *body);
/* Answer with {"error": message, "code": status} as JSON. */
KR_API int kr_http_respond_error(kr_http_response_t *resp, int status, const char *fmt, ...)
    KR_PRINTF(3, 4);
/* Add a response header (copied). */
KR_API int kr_http_respond_header(kr_http_response_t *resp, const char *name, const char *value);

/* A streamed body (Server-Sent Events, long polls): `read` is called on an
 * HTTP server thread to fill at most `max` bytes of `buf`; it may block
 * for a while (at most a second or so, so that stops stay prompt) and
 * returns the number of bytes written, 0 for "nothing yet, ask again", or
 * -1 to end the stream. `done` (optional) runs once when the stream ends
 * (client gone or ended), then `user` is no longer used. At most 64
 * streams are open at once (a quarter of the endpoint's connections, so
 * that probes and short calls always find room): past that the response
 * is a 503 with Retry-After and KR_EUNAVAILABLE is returned; `done` is
 * then never called, and `user` stays the caller's. [HTTP thread] */
typedef long (*kr_http_stream_read_cb)(char *buf, size_t max, void *user);
typedef void (*kr_http_stream_done_cb)(void *user);
KR_API int kr_http_respond_stream(kr_http_response_t *resp, int status, const char *content_type,
                                  kr_http_stream_read_cb read, kr_http_stream_done_cb done,
                                  void *user);

/* A route handler; runs on an HTTP server thread and may block briefly
 * (read caches, the inventory); it answers through `resp` (a handler that
 * answers nothing gives 500). [HTTP thread] */
typedef void (*kr_http_handler_cb)(const kr_http_request_t *req, kr_http_response_t *resp,
                                   void *user);

/* A route's guard: who may call it, decided when the request's headers
 * arrive, before its body is read (kr_http_request_body is empty here).
 * Return true to go on to the handler, or answer `resp` (401, 403, 503...)
 * and return false: the handler is not called and the body is never kept
 * (a client waiting for "100 Continue" never sends it; one already sending
 * it has it read and dropped, so that it reads the answer). A guard that
 * refuses without answering gives 500. [HTTP thread] */
typedef bool (*kr_http_guard_cb)(const kr_http_request_t *req, kr_http_response_t *resp,
                                 void *user);

/* ---- Manager ---------------------------------------------------------------------- */

typedef struct kr_manager kr_manager_t;

/* A runnable: something the manager starts and stops with itself (a
 * periodic sweep, the inventory's consumer). Leader-only runnables start
 * when this replica starts leading (at once without leader election) and
 * stop when it stops. start must return promptly (start a thread or a
 * timer); stop must stop it and wait for it, within the manager's
 * shutdown timeout. [any thread] */
typedef int (*kr_manager_start_cb)(kr_manager_t *m, void *user);
typedef void (*kr_manager_stop_cb)(kr_manager_t *m, void *user);

/* Readiness beyond the built-in checks: return true when ready, or false
 * with a reason in `why` (at most `len` bytes). [HTTP thread] */
typedef bool (*kr_manager_ready_cb)(char *why, size_t len, void *user);

#define KR_MANAGER_OPTS_VERSION 4
/* clang-format off */
#define KR_MANAGER_OPTS_INIT {.version = KR_MANAGER_OPTS_VERSION}
/* clang-format on */

/* Options; zero means the default. Borrowed for kr_manager_new. */
typedef struct kr_manager_opts {
    unsigned version; /* KR_MANAGER_OPTS_VERSION (0 is taken as 1) */
    const kr_manager_program *program; /* required */
    const kr_manager_config *config; /* required: the parsed shared flags */
    /* zero: a sink on stderr in config->log_format at config->verbosity */
    kr_logger logger;
    /* The hub cluster's name in keys, labels and logs, unless --hub-name
     * gives one; NULL: "hub". */
    const char *hub_name;
    bool no_hub; /* a program without a hub (a CLI verb); clusters only */
    /* Stop: controllers and runnables get this long to finish; 0 = 30000. */
    uint64_t shutdown_timeout_ms;
    size_t max_body_bytes; /* HTTP request bodies; 0 = 3 MiB (the apiserver's) */
    /* Informer options for every informer the manager makes (page size,
     * store transforms); borrowed for the manager's life. */
    kr_informer_factory_opts informers;
    /* Version 2: the client-side rate limit of the hub's and the clusters'
     * clients (controller-runtime's --kube-api-qps and --kube-api-burst);
     * 0: the kubeconfig's, else 20 qps, burst 30 (controller-runtime's
     * default up to v0.20; v0.21 sets none and leaves the server's API
     * Priority and Fairness to protect it: qps < 0 does that here)
     * (client-go's bare default is 5 and 10); qps < 0: none. */
    double client_qps;
    int client_burst;
    /* Version 3: the default of --request-timeout for the hub's and the
     * clusters' clients (kubectl's flag; client-go has none), 0: none. A
     * controller whose workers are shared by several clusters sets one, so
     * that a cluster that stops answering without refusing (a hung
     * apiserver, a partition that drops packets) cannot hold every worker:
     * its requests fail and its keys wait for it alone. */
    uint64_t request_timeout_ms;
    /* Version 4: refuse a --cluster whose apiserver is the hub's (kr-syncer,
     * whose copies would be the hub objects themselves); without it the
     * hub may also be a workload cluster (kr-submitter may run on it, and
     * kr-sweeper then sweeps it). Two --cluster names of one apiserver are
     * refused in every program. Apiservers compare by their URLs with
     * scheme and host in lower case, the default port made explicit and
     * trailing '/' dropped. */
    bool clusters_not_hub;
} kr_manager_opts;

/* Build the manager: block SIGINT/SIGTERM for its threads, start the
 * runtime, load the hub's and each cluster's kubeconfig and create their
 * clients, create the informer factory and metrics registry, and bind the
 * HTTP endpoint (so a busy port fails here; it serves from kr_manager_run).
 * Signals are blocked in the calling thread and inherited by the threads
 * made afterwards: call it before the program starts threads of its own.
 * *out is new (kr_manager_free, which restores the signal mask).
 * Errors: KR_EINVAL (a missing or invalid kubeconfig, a bad --listen, two
 * --cluster of one apiserver, or one of the hub's with clusters_not_hub:
 * err->message is one clear line for the program to print before exiting 2),
 * KR_EIO (cannot listen), KR_ENOMEM. [main thread] */
KR_API int kr_manager_new(const kr_manager_opts *opts, kr_manager_t **out, kr_error_t *err);

/* Run until SIGINT/SIGTERM, kr_manager_stop, or lost leadership: start the
 * informers, the controllers without leader election, the non-leader
 * runnables, leader election (or, without it, the leader-only parts at
 * once) and serve HTTP. Then stop gracefully: every controller cut off,
 * the leader-only controllers and runnables stopped, then the others,
 * within shutdown_timeout_ms (the Lease released as soon as the leader-only
 * parts have stopped), informers stopped. Returns the process exit
 * code: 0 after a signal or kr_manager_stop, 1 after lost leadership or a failed start (logged).
 * Three cases end the process instead of returning (kr_manager_free never
 * runs; a program that must flush something does it in a runnable's stop):
 * a second signal (status 130); a stop after a signal still unfinished
 * 5 s past shutdown_timeout_ms (status 1, logged: a hung stop must not
 * hold up a rollout); and, after lost leadership (also during a stop), a
 * reconcile still running when another replica may lead, the lease
 * duration less the renew deadline after the step-down (5 s with the
 * defaults; status 1, logged).
 * Call once. [main thread] */
KR_API int kr_manager_run(kr_manager_t *m);

/* Ask a running manager to stop (as a signal would); `exit_code` is what
 * kr_manager_run returns. Safe from any thread, handlers and workers
 * included. */
KR_API void kr_manager_stop(kr_manager_t *m, int exit_code);

/* Free everything. NULL is a no-op. After kr_manager_run returned, or
 * instead of running it. [main thread] */
KR_API void kr_manager_free(kr_manager_t *m);

/* ---- What the manager holds (all borrowed, valid for the manager's life) -- */

KR_API kr_runtime_t *kr_manager_runtime(kr_manager_t *m);
KR_API kr_metrics_registry_t *kr_manager_metrics(kr_manager_t *m);
KR_API const kr_logger *kr_manager_logger(kr_manager_t *m);
KR_API kr_informer_factory_t *kr_manager_informers(kr_manager_t *m);
/* The elector, or NULL without --leader-elect. */
KR_API kr_leader_t *kr_manager_leader(kr_manager_t *m);
KR_API const kr_manager_config *kr_manager_get_config(kr_manager_t *m);

/* The hub: its client (NULL with no_hub), name and the namespace of its
 * kubeconfig context. */
KR_API kr_client_t *kr_manager_hub(kr_manager_t *m);
/* Events about hub objects (events.h), written as the program
 * (source.component: its name; source.host: the host's name); sent until
 * kr_manager_free, flushed for up to a second when the manager stops. NULL
 * without a hub. [any thread] */
KR_API kr_event_recorder_t *kr_manager_events(kr_manager_t *m);
/* The callers of the program's API (KR_MANAGER_FLAGS_AUTH): the token file
 * --token-auth-file loaded, and the reviewer --token-review made on the
 * hub; NULL when not asked for. Pass both to kr_token_authenticate. */
KR_API const kr_token_file_t *kr_manager_token_file(kr_manager_t *m);
KR_API kr_token_reviewer_t *kr_manager_token_reviewer(kr_manager_t *m);
/* The reviewer --authorization-review made on the hub; NULL when not
 * asked for: every authenticated caller may do everything the program's
 * own rules allow. */
KR_API kr_access_reviewer_t *kr_manager_access_reviewer(kr_manager_t *m);
KR_API const char *kr_manager_hub_name(kr_manager_t *m);
KR_API const char *kr_manager_hub_namespace(kr_manager_t *m);

/* Workload clusters, in the order of --cluster. */
KR_API size_t kr_manager_cluster_count(kr_manager_t *m);
KR_API const char *kr_manager_cluster_name(kr_manager_t *m, size_t i);
KR_API kr_client_t *kr_manager_cluster_client(kr_manager_t *m, size_t i);
/* The index of cluster `name`, or -1. */
KR_API long kr_manager_cluster_find(kr_manager_t *m, const char *name);

/* The shared informer of (client, resource, namespace, label selector),
 * created on first request (named after the client's cluster in logs and
 * metrics), its cache made with kr_manager_opts.informers.store, and
 * started with the manager. *out is borrowed. Errors: as
 * kr_informer_factory_get (KR_EINVAL: a namespace that is not an RFC 1123
 * label, a label or field selector that does not parse (field selectors
 * are checked for syntax only: "spec.bogus=1" passes, and the apiserver
 * refuses it at the list), the scope's informer was made with other store
 * options, kr_manager_informer_with). */
KR_API int kr_manager_informer(kr_manager_t *m, kr_client_t *client, kr_gvr resource,
                               const char *namespace_, const char *label_selector,
                               kr_informer_t **out, kr_error_t *err);
/* The same, narrowed by a field selector too ("metadata.name=x",
 * "spec.nodeName=n1"; NULL: none), as the factory's. */
KR_API int kr_manager_informer_selected(kr_manager_t *m, kr_client_t *client, kr_gvr resource,
                                        const char *namespace_, const char *label_selector,
                                        const char *field_selector, kr_informer_t **out,
                                        kr_error_t *err);

#define KR_MANAGER_INFORMER_OPTS_VERSION 2
/* clang-format off */
#define KR_MANAGER_INFORMER_OPTS_INIT {.version = KR_MANAGER_INFORMER_OPTS_VERSION}
/* clang-format on */

/* One informer's scope and cache; zero means the default. Borrowed for
 * the call. */
typedef struct kr_manager_informer_opts {
    unsigned version; /* KR_MANAGER_INFORMER_OPTS_VERSION (0 is taken as 1) */
    const char *label_selector; /* NULL: none */
    const char *field_selector; /* NULL: none */
    /* The cache's options for this informer (representation, keep_fields,
     * transform: as kr_informer_opts.store; copied); NULL: those of
     * kr_manager_opts.informers. */
    const kr_store_opts *store;
    /* Version 2: the metadata-only informer of the scope (its cache holds
     * PartialObjectMetadata, kr_informer_factory_get_metadata_with), as
     * controller-runtime's OnlyMetadata: another informer and cache than
     * the scope's full one. */
    bool metadata_only;
} kr_manager_informer_opts;

/* kr_manager_informer with options (`opts` may be NULL): a store of its
 * own for one informer, as kr_informer_opts.store gives one made
 * directly. One scope (client, resource, namespace, selectors) has one
 * informer and one cache: asked for again with store options that would
 * make another cache (kr_manager_informer asks with the manager's), it is
 * refused, KR_EINVAL naming the scope and the option, as
 * controller-runtime's cache refuses conflicting per-object options (see
 * kr_informer_factory_get_with). Errors: as kr_manager_informer. */
KR_API int kr_manager_informer_with(kr_manager_t *m, kr_client_t *client, kr_gvr resource,
                                    const char *namespace_, const kr_manager_informer_opts *opts,
                                    kr_informer_t **out, kr_error_t *err);

/* A controller run by the manager: created now with the manager's metrics,
 * logger and shutdown_timeout_ms filled in where `opts` leaves them zero
 * (the clock stays the controller's own default); started when
 * this replica leads (at once without leader election), stopped before the
 * Lease is released (kr_manager_add_controller_with: one that runs
 * without leadership). *out is borrowed (freed by the manager).
 * Usually called before kr_manager_run, its sources then registered with
 * kr_controller_watch before the run starts it. Also allowed while the
 * manager runs: a controller added while this replica leads (or, for one
 * without leader election, while running) starts at once, with no
 * sources yet, and each source watched then is one added while running
 * (kr_controller_watch): until its informer has synced the controller
 * takes no key and /readyz fails its line; not synced within its
 * cache_sync_timeout_ms, the controller fails and the manager stops with
 * exit code 1, as for a start whose caches do not sync. An informer asked
 * for while running (kr_manager_informer) starts at once.
 * Names are unique in a manager (its metrics, workqueues and /readyz line
 * go by the name, as controller-runtime's): a second controller of a name
 * is refused. Errors: as kr_controller_new; KR_EEXIST (the name is taken),
 * KR_ENOMEM, and kr_controller_start's when started at once. */
KR_API int kr_manager_add_controller(kr_manager_t *m, const kr_controller_opts *opts,
                                     kr_controller_t **out, kr_error_t *err);

#define KR_MANAGER_CONTROLLER_OPTS_VERSION 1
/* clang-format off */
#define KR_MANAGER_CONTROLLER_OPTS_INIT {.version = KR_MANAGER_CONTROLLER_OPTS_VERSION}
/* clang-format on */

/* How the manager runs one controller; zero means the default. */
typedef struct kr_manager_controller_opts {
    unsigned version; /* KR_MANAGER_CONTROLLER_OPTS_VERSION (0 is taken as 1) */
    /* Run on every replica, leading or not (controller-runtime's
     * NeedLeaderElection() returning false): for a controller that only
     * keeps local state (a cache of its own, what this replica serves).
     * Started with the manager, after the informers and before the
     * non-leader runnables and the election; never restarted when this
     * replica starts or stops leading; cut off at the stop together with
     * the leader-only controllers (no new reconcile anywhere from then on)
     * but waited on only once the leader-only parts have stopped and the
     * Lease is released, from the same moment, before the non-leader
     * runnables and the informers. Its reconciles never hold the Lease or
     * the lost-leadership watchdog. It must write nothing another replica's leader writes.
     * /readyz names it on every replica. */
    bool no_leader_election;
} kr_manager_controller_opts;

/* kr_manager_add_controller with the manager's options for it (`mopts`
 * may be NULL: the defaults, as kr_manager_add_controller). Added while
 * the manager runs, a controller that runs without leadership starts at
 * once. Errors: as kr_manager_add_controller; KR_EINVAL (an unknown
 * `mopts` version). */
KR_API int kr_manager_add_controller_with(kr_manager_t *m, const kr_controller_opts *opts,
                                          const kr_manager_controller_opts *mopts,
                                          kr_controller_t **out, kr_error_t *err);

/* A runnable (see kr_manager_start_cb). `leader_only`: run only while
 * leading. Before kr_manager_run. Errors: KR_ENOMEM, KR_ESTATE (running). */
KR_API int kr_manager_add_runnable(kr_manager_t *m, kr_manager_start_cb start,
                                   kr_manager_stop_cb stop, void *user, bool leader_only,
                                   kr_error_t *err);

/* A route on the HTTP endpoint: `method` ("GET", "POST"...; NULL any) and
 * `path`, exact ("/api/v1/objects") or a prefix: a path ending in "/" and
 * "*" matches everything below it ("/api/v1/objects/" then "*"). Longest
 * match wins; the built-in /healthz,
 * /livez, /readyz (and the paths below them) and /metrics cannot be
 * replaced. Before kr_manager_run. With the
 * endpoint disabled (--listen 0) routes are accepted and never served.
 * Errors: KR_EINVAL, KR_EEXIST, KR_ENOMEM, KR_ESTATE (running). */
KR_API int kr_manager_add_route(kr_manager_t *m, const char *method, const char *path,
                                kr_http_handler_cb handler, void *user, kr_error_t *err);
/* kr_manager_add_route with a guard run on the headers, before the body is
 * read (as kube-apiserver authenticates before a handler reads anything):
 * an unauthenticated caller cannot make the endpoint hold its body.
 * kr_manager_token_guard is the usual one. */
KR_API int kr_manager_add_guarded_route(kr_manager_t *m, const char *method, const char *path,
                                        kr_http_guard_cb guard, void *guard_user,
                                        kr_http_handler_cb handler, void *user, kr_error_t *err);
/* A guard (guard_user: the manager) for the callers of --token-auth-file
 * and --token-review (KR_MANAGER_FLAGS_AUTH): a missing or unknown bearer
 * token is answered 401 with WWW-Authenticate, a review the hub cannot
 * give 503; with neither flag given every caller goes on. The handler
 * asks kr_token_authenticate for the identity (a reviewed token is
 * cached by then). */
KR_API bool kr_manager_token_guard(const kr_http_request_t *req, kr_http_response_t *resp,
                                   void *manager);
/* kr_manager_token_guard, and with --authorization-review the hub's RBAC
 * must also let the caller use the path, under "/<program name>"
 * ("/kr-inventory/api/v1/objects": kube's default roles give every user
 * get on "/api" and below), with the method, as kube-apiserver asks of a
 * non-resource URL (verb: the method in lower case, "get" for GET;
 * granted by nonResourceURLs in a ClusterRole): 403 in kube-apiserver's
 * words otherwise, 503 when the hub cannot be asked. For
 * an API whose rights are its paths (kr-inventory's); one whose rights are
 * resources asks kr_manager_access_reviewer itself (kr-submitter). */
KR_API bool kr_manager_access_guard(const kr_http_request_t *req, kr_http_response_t *resp,
                                    void *manager);

/* For a handler that may block in a call another thread can cut short
 * (a stalled database: kr_inventory_interrupt): a stop waits up to 5 s
 * for the requests the endpoint is answering, then closes those still
 * unanswered, which waits for their handlers; fn(user) is called just
 * before, only then and only while a handler (or a stream's read) is still
 * running, never for a client slow to send or read, so that a handler stalled there does not hold
 * the stop. One; a later call replaces it. No-op without an endpoint
 * (--listen 0). Before kr_manager_run. Errors: KR_EINVAL (m or fn NULL).
 * [any thread] */
KR_API int kr_manager_on_stop_cut(kr_manager_t *m, void (*fn)(void *user), void *user,
                                  kr_error_t *err);

/* An extra readiness check for /readyz ("name" appears in its output,
 * the reason it fails withheld there; /readyz/<name> runs it alone and
 * says why; /readyz?exclude=<name> skips it). */
KR_API int kr_manager_add_ready_check(kr_manager_t *m, const char *name, kr_manager_ready_cb check,
                                      void *user, kr_error_t *err);

/* The address the HTTP endpoint listens on ("127.0.0.1:41234"; "" when
 * disabled). Borrowed. */
KR_API const char *kr_manager_listen_address(kr_manager_t *m);

/* True while the leader-only parts run (always true without election once
 * running). */
KR_API bool kr_manager_leading(kr_manager_t *m);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_MANAGER_H */
