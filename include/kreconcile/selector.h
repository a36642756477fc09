/* libkreconcile — Kubernetes label and field selectors: the apiserver's
 * syntax and error messages (apimachinery labels.Parse, fields.ParseSelector),
 * parsed once into immutable values that any thread may share and match.
 * Pure functions: no I/O, no global state. One parser serves the informer's
 * listers and the test server. */
#ifndef KRECONCILE_SELECTOR_H
#define KRECONCILE_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Label selectors ----------------------------------------------------- */

/* A parsed label selector: requirements AND-ed together, sorted by key
 * (stable), each with its values sorted and de-duplicated. Immutable once
 * parsed, so one selector may be matched from any number of threads. */
typedef struct kr_selector kr_selector_t;

typedef enum kr_selector_op {
    KR_SELECTOR_EQUALS = 0, /* k=v */
    KR_SELECTOR_DOUBLE_EQUALS, /* k==v */
    KR_SELECTOR_NOT_EQUALS, /* k!=v: k absent or different */
    KR_SELECTOR_IN, /* k in (a,b) */
    KR_SELECTOR_NOT_IN, /* k notin (a,b): k absent or none of them */
    KR_SELECTOR_EXISTS, /* k */
    KR_SELECTOR_DOES_NOT_EXIST, /* !k */
    KR_SELECTOR_GREATER_THAN, /* k>5: k present, an integer, greater */
    KR_SELECTOR_LESS_THAN, /* k<5 */
} kr_selector_op;

/* Parse `text` (NUL-terminated; NULL or "" is the empty selector, which
 * matches everything). *out is new: free it with kr_selector_free().
 * Syntax: comma-separated requirements `k=v`, `k==v`, `k!=v`,
 * `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>5`, `k<5`; spaces, tabs,
 * CR and LF between tokens are ignored; keys are qualified names (optional
 * DNS-subdomain prefix and '/', name <= 63 chars of [A-Za-z0-9-_.]) and
 * values label values (<= 63 chars, may be empty).
 * Errors: KR_EPARSE with exactly the apiserver's message in err->message,
 * e.g. "unable to parse requirement: found 'IN', expected: in, notin, =,
 * ==, !=, gt, lt" (long messages are cut to fit kr_error_t); KR_ENOMEM.
 * *out is left NULL on error. [any thread] */
KR_API int kr_selector_parse(const char *text, kr_selector_t **out, kr_error_t *err);

/* Free a selector. NULL is a no-op. The caller must ensure no other
 * thread still uses it. [any thread] */
KR_API void kr_selector_free(kr_selector_t *sel);

/* True when `labels` (a JSON object of string values, borrowed; NULL or a
 * non-object means "no labels") satisfies every requirement. A label whose
 * value is not a JSON string counts as present but equal to no value and
 * not an integer. The empty selector matches everything. [any thread] */
KR_API bool kr_selector_matches(const kr_selector_t *sel, const json_t *labels);

/* kr_selector_matches() on obj.metadata.labels (obj borrowed). [any thread] */
KR_API bool kr_selector_matches_object(const kr_selector_t *sel, const json_t *obj);

/* True for the selector that matches everything (no requirements). */
KR_API bool kr_selector_is_empty(const kr_selector_t *sel);

/* The canonical text, as the apiserver prints it: requirements sorted by
 * key, joined by ","; `k in (a,b)` with sorted values. Parsing the result
 * gives an equal selector. New string (kr_free it); NULL on allocation
 * failure. The empty selector gives "". [any thread] */
KR_API char *kr_selector_to_string(const kr_selector_t *sel);

/* The number of requirements (0 for the empty selector). [any thread] */
KR_API size_t kr_selector_count(const kr_selector_t *sel);

/* The i-th requirement (i < kr_selector_count()): its key, operator and
 * values (sorted, unique; none for EXISTS/DOES_NOT_EXIST). Every pointer
 * is borrowed from `sel` and lives as long as it. Any out-pointer may be
 * NULL. Returns 0, or KR_EINVAL when i is out of range. [any thread] */
KR_API int kr_selector_requirement(const kr_selector_t *sel, size_t i, const char **key,
                                   kr_selector_op *op, const char *const **values,
                                   size_t *n_values);

/* The operator's text as the apiserver names it: "=", "==", "!=", "in",
 * "notin", "exists", "!", "gt", "lt". Static string. [any thread] */
KR_API const char *kr_selector_op_name(kr_selector_op op);

/* ---- Field selectors ----------------------------------------------------- */

/* A parsed field selector: comma-joined `field=value`, `field==value`,
 * `field!=value` terms, AND-ed, sorted by their text as the apiserver does.
 * Values may escape '\\', ',' and '=' with a backslash. Immutable. */
typedef struct kr_field_selector kr_field_selector_t;

typedef enum kr_field_op {
    KR_FIELD_EQUALS = 0, /* `=` and `==` (the apiserver does not tell them apart) */
    KR_FIELD_NOT_EQUALS, /* `!=` */
} kr_field_op;

/* Parse `text` (NULL or "" matches everything). No whitespace is trimmed,
 * as on the apiserver: "a = b" names the field "a ". Which fields exist
 * is the caller's business (see kr_field_selector_check_fields()).
 * *out is new (kr_field_selector_free). Errors: KR_EPARSE with the
 * apiserver's message ("invalid selector: 'x'; can't understand 'x'",
 * "invalid field selector: invalid escape sequence: \\q", "invalid field
 * selector: unescaped character in value: 61" — the apiserver prints the
 * character's code); KR_ENOMEM. [any thread] */
KR_API int kr_field_selector_parse(const char *text, kr_field_selector_t **out, kr_error_t *err);

/* Free a field selector; NULL is a no-op. [any thread] */
KR_API void kr_field_selector_free(kr_field_selector_t *sel);

/* The number of terms, and the i-th term (pointers borrowed from `sel`;
 * the value is unescaped). kr_field_selector_requirement() returns 0 or
 * KR_EINVAL when i is out of range. [any thread] */
KR_API size_t kr_field_selector_count(const kr_field_selector_t *sel);
KR_API int kr_field_selector_requirement(const kr_field_selector_t *sel, size_t i,
                                         const char **field, kr_field_op *op, const char **value);

/* Fetch the value of `field` in `obj` for matching: return a string
 * borrowed from `obj` (or static), or NULL when the object has no such
 * field (NULL compares as "", as on the apiserver). Must be thread-safe
 * when matching from several threads. */
typedef const char *(*kr_field_value_cb)(const json_t *obj, const char *field, void *user);

/* A kr_field_value_cb for the fields every resource supports:
 * "metadata.name" and "metadata.namespace"; NULL for any other field or
 * when the object lacks it. `user` is ignored. [any thread] */
KR_API const char *kr_field_selector_metadata_value(const json_t *obj, const char *field,
                                                    void *user);

/* True when every term holds for `obj` (borrowed), values fetched with
 * `value_fn(obj, field, user)`; NULL value_fn means
 * kr_field_selector_metadata_value. The empty selector matches
 * everything. [any thread] */
KR_API bool kr_field_selector_matches(const kr_field_selector_t *sel, const json_t *obj,
                                      kr_field_value_cb value_fn, void *user);

/* Check that every term names one of the `n_allowed` fields in `allowed`.
 * Returns 0, or KR_EINVAL with the apiserver's message for the first
 * unknown one: "\"spec.foo\" is not a known field selector: only
 * \"metadata.name\", \"metadata.namespace\"". [any thread] */
KR_API int kr_field_selector_check_fields(const kr_field_selector_t *sel,
                                          const char *const *allowed, size_t n_allowed,
                                          kr_error_t *err);

/* Canonical text: terms sorted, `field=value` / `field!=value`, values
 * escaped, joined by ",". New string (kr_free); NULL on allocation
 * failure. [any thread] */
KR_API char *kr_field_selector_to_string(const kr_field_selector_t *sel);

/* ---- Names ------------------------------------------------------------- */

/* True when `s` is an RFC 1123 label, as the apiserver takes a namespace's
 * name: 1 to 63 lower case alphanumerics or '-', alphanumeric at both
 * ends. NULL is false. [any thread] */
KR_API bool kr_name_is_dns1123_label(const char *s);

/* True when `s` is an RFC 1123 subdomain, as the apiserver takes most
 * objects' names (a ConfigMap's, a Lease's, a Job's): 1 to 253 characters,
 * dot-separated labels of lower case alphanumerics or '-', each
 * alphanumeric at both ends (apimachinery's IsDNS1123Subdomain, which
 * bounds only the whole). NULL is false. [any thread] */
KR_API bool kr_name_is_dns1123_subdomain(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_SELECTOR_H */
