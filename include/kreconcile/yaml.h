/* libkreconcile — YAML to JSON (jansson) conversion, for kubeconfig files,
 * manifests and server-side apply bodies. YAML 1.1 as Kubernetes reads it
 * (sigs.k8s.io/yaml): plain scalars become numbers, booleans and null when
 * they look like them (a whole float an integer, as Go writes it); quoted
 * scalars stay strings; explicit tags decide; plain keys are resolved and
 * printed back as text (NO: is "false"); anchors and aliases are resolved.
 * A value JSON cannot hold (.inf, .nan) is refused, as kubectl refuses it.
 * And JSON back to YAML (kr_yaml_dump), as kubectl prints it.
 * Pure functions; no I/O except kr_yaml_load_file. [any thread] */
#ifndef KRECONCILE_YAML_H
#define KRECONCILE_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse the first document of `text` (`len` bytes; JSON is valid YAML);
 * later documents are not read, as go-yaml's Unmarshal reads none.
 * *out is new. An empty document gives JSON null. Errors: KR_EPARSE with
 * the line (and column, for syntax) in the message, KR_ETOOLARGE past 64
 * levels of nesting or when aliases expand it past as many nodes as it
 * has bytes (plus 10,000) or eight times its bytes of values (plus 1 MiB),
 * KR_ENOMEM. */
KR_API int kr_yaml_parse(const char *text, size_t len, json_t **out, kr_error_t *err);

/* Parse every document of a multi-document stream ("---" separated) into
 * a new JSON array (empty documents are skipped). */
KR_API int kr_yaml_parse_all(const char *text, size_t len, json_t **out, kr_error_t *err);

/* Read and parse the first document of a file ("-" is stdin). Adds KR_EIO. */
KR_API int kr_yaml_load_file(const char *path, json_t **out, kr_error_t *err);

/* The YAML of `value`, as kubectl -o yaml prints an object: one document
 * (no "---"), block style with two-space indents, a mapping's keys in
 * go-yaml's order (letters first, runs of digits by value: "a2" before
 * "a10"), strings plain where they read back as the same string and
 * double-quoted where they would read as something else ("true", "1.5",
 * "null", ""), strings of several lines as literal blocks (|), plain text
 * folded past 80 columns. kr_yaml_parse() of the output gives `value` back (a whole
 * float comes back an integer, as it does from any YAML Kubernetes reads).
 * *out is new (kr_free), NUL-terminated, ends with a newline. Errors:
 * KR_EINVAL, KR_ETOOLARGE past 1000 levels of nesting, KR_ENOMEM. */
KR_API int kr_yaml_dump(const json_t *value, char **out, kr_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_YAML_H */
