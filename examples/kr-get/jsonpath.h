/* kr-get's -o jsonpath=TEMPLATE: a subset of kubectl's JSONPath templates
 * (k8s.io/client-go/util/jsonpath), printed as kubectl prints them.
 *
 * Supported: text outside braces; {"text"} and {'text'} literals (with
 * \n, \t, \r, \\ and \" escapes); paths of .field, ['field'] (for keys with
 * dots or slashes), [n] (negative from the end), [*] and .* (every element
 * or value), from the object (a leading $ or @ is the same); {.} or {} for
 * the whole object; {range PATH} ... {end}. Missing fields print nothing,
 * as kubectl (which allows missing keys). A path's results are printed
 * space-separated: strings as they are, numbers and booleans as Go prints
 * them, objects and arrays as compact JSON (keys sorted, Go's escapes).
 * Not supported, refused when the template is parsed: filters [?(...)],
 * recursive descent (..), unions ([a,b]) and slices ([a:b]). */
#ifndef KR_GET_JSONPATH_H
#define KR_GET_JSONPATH_H

#include <jansson.h>
#include <stdio.h>

typedef struct kg_jsonpath kg_jsonpath;

/* Parse `text`; NULL after writing kubectl's error ("error parsing
 * jsonpath TEXT, unclosed action") to `error` (`size` bytes). */
kg_jsonpath *kg_jsonpath_parse(const char *text, char *error, size_t size);
void kg_jsonpath_free(kg_jsonpath *jp);

/* Print `doc` through the template to `out`. Returns 0, or -1 after
 * writing kubectl's error ("error executing jsonpath ...") to `error`. */
int kg_jsonpath_print(const kg_jsonpath *jp, const json_t *doc, FILE *out, char *error,
                      size_t size);

/* The values the template's paths find in `doc`, appended to `out` (an
 * array), text and ranges aside: what -o custom-columns prints of a column
 * (a template of one path). Returns 0, or -1 after writing kubectl's
 * jsonpath error alone ("array index out of bounds: index 5, length 1") to
 * `error`. */
int kg_jsonpath_values(const kg_jsonpath *jp, const json_t *doc, json_t *out, char *error,
                       size_t size);

/* JSON as Go's encoding/json writes it: keys sorted, <, >, & and U+2028,
 * U+2029 as \u escapes, with jansson's `flags` (JSON_INDENT(4) for
 * json.MarshalIndent, JSON_COMPACT for json.Marshal). A new string (free()). */
char *kg_go_json(const json_t *value, size_t flags);

/* A float64 as Go's fmt %v writes it (strconv 'g', shortest digits, an
 * exponent below 1e-4 or from 1e6): 0.1234567, 123456.5,
 * 1.234567895e+08 for 123456789.5, 1e-05. Into buf (40 bytes hold any). */
void kg_go_float(double f, char *buf, size_t size);

#endif
