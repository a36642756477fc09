/* libkreconcile-testserver — YAML bodies and files through the library's
 * YAML reader (kreconcile/yaml.h), so that the server reads manifests the
 * way the rest of the library does, and YAML answers through its printer. */
#include "kreconcile/yaml.h"
#include "testserver/ts_internal.h"

int ts_yaml_parse(const char *text, size_t len, json_t **out, kr_error_t *err)
{
    return kr_yaml_parse(text, len, out, err);
}

int ts_yaml_parse_all(const char *text, size_t len, json_t **out, kr_error_t *err)
{
    return kr_yaml_parse_all(text, len, out, err);
}

char *ts_yaml_dump(const json_t *value)
{
    char *out = NULL;
    return kr_yaml_dump(value, &out, NULL) == 0 ? out : NULL;
}
