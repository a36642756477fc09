/* libkreconcile — internals of the selector module shared by its files:
 * a bounded message builder (never allocates, so errors can be reported
 * when memory is exhausted) and label syntax checks. Never installed. */
#ifndef KR_LIB_SELECTOR_INTERNAL_H
#define KR_LIB_SELECTOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Same capacity as kr_error_t.message: longer text is cut. */
typedef struct kr_msg {
    char text[1024];
    size_t len;
} kr_msg;

void kr_msg_append(kr_msg *m, const char *s, size_t len);
void kr_msg_str(kr_msg *m, const char *s);
/* Append `s` quoted as Go's %q verb prints it. */
void kr_msg_quote(kr_msg *m, const char *s, size_t len);

/* Label value syntax, as the apiserver validates it. */
bool kr_label_value_valid(const char *value, size_t len);
/* Append the apiserver's validation errors for a label key (IsQualifiedName)
 * or value (IsValidLabelValue), joined by "; "; nothing when valid. */
void kr_label_key_errors(const char *key, size_t len, kr_msg *m);
void kr_label_value_errors(const char *value, size_t len, kr_msg *m);
/* strconv.ParseInt(s, 10, 64). */
bool kr_parse_int64(const char *s, size_t len, long long *out);

/* The canonical text of a selector: its `n` terms, each appended to the
 * buffer by `term(buf, i, sel)`, joined by ","; "" when there are none. A
 * new string (kr_free it), or NULL when out of memory. */
struct kr_buf;
typedef int (*kr_selector_term_cb)(struct kr_buf *buf, size_t i, const void *sel);
char *kr_selector_join(size_t n, kr_selector_term_cb term, const void *sel);

#endif /* KR_LIB_SELECTOR_INTERNAL_H */
