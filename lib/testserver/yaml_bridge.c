/* libkreconcile-testserver — YAML bodies and files through the library's
 * YAML reader (kreconcile/yaml.h). Referenced weakly so that the server
 * builds and serves JSON while the reader is not linked in. */
#include "kreconcile/yaml.h"
#include "testserver/ts_internal.h"

#pragma weak kr_yaml_parse
#pragma weak kr_yaml_parse_all

int ts_yaml_parse(const char *text, size_t len, json_t **out, kr_error_t *err)
{
    if (!kr_yaml_parse)
        return kr_error_set(err, KR_EUNSUPPORTED, "YAML is not supported by this build");
    return kr_yaml_parse(text, len, out, err);
}

int ts_yaml_parse_all(const char *text, size_t len, json_t **out, kr_error_t *err)
{
    if (!kr_yaml_parse_all)
        return kr_error_set(err, KR_EUNSUPPORTED, "YAML is not supported by this build");
    return kr_yaml_parse_all(text, len, out, err);
}
