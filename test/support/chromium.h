/* libkreconcile tests — Debian's chromium, headless, driven through the
 * DevTools protocol over a pipe (--remote-debugging-pipe: NUL-separated
 * JSON on fds 3 and 4, no WebSocket needed) for page tests: open a URL,
 * evaluate JavaScript, wait for a condition. A fresh profile directory per
 * browser; the browser dies with the process that started it. Test-only. */
#ifndef KR_TEST_CHROMIUM_H
#define KR_TEST_CHROMIUM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct kr_chromium kr_chromium;

/* Start the browser and open `url` in a new page. Returns 0, or -1 with
 * the reason in why[0..size) (no chromium binary, it did not start). */
int kr_chromium_open(const char *url, kr_chromium **out, char *why, size_t why_size);

/* Evaluate `expression` in the page; *value is a new reference to its
 * JSON value (returnByValue), or NULL. Returns 0 or -1 (an exception or
 * a protocol error, described in why). Waits at most 30 s. */
int kr_chromium_eval(kr_chromium *c, const char *expression, json_t **value, char *why,
                     size_t why_size);

/* Evaluate `expression` until it is true (strictly), for at most
 * timeout_ms. Returns true when it became true. */
bool kr_chromium_wait_true(kr_chromium *c, const char *expression, long timeout_ms);

/* Close the browser and remove its profile. NULL is a no-op. */
void kr_chromium_close(kr_chromium *c);

#endif /* KR_TEST_CHROMIUM_H */
