/* Fuzz target: arbitrary bytes through the YAML converter (single and
 * multi-document); the result must serialise and parse back as JSON, and
 * print as YAML that reads back as the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *out = NULL;
    kr_error_t err;
    if (kr_yaml_parse((const char *)data, size, &out, &err) == 0) {
        char *text = json_dumps(out, JSON_ENCODE_ANY);
        if (text) {
            json_t *back = json_loads(text, JSON_DECODE_ANY, NULL);
            if (!back || !json_equal(back, out))
                abort();
            json_decref(back);
            free(text);
        }
        char *yaml = NULL;
        if (kr_yaml_dump(out, &yaml, &err) == 0) {
            json_t *back = NULL;
            if (kr_yaml_parse(yaml, strlen(yaml), &back, &err) != 0 || !json_equal(back, out))
                abort();
            json_decref(back);
            kr_free(yaml);
        } else if (err.code != KR_ENOMEM && err.code != KR_ETOOLARGE) {
            abort();
        }
        json_decref(out);
    }
    if (kr_yaml_parse_all((const char *)data, size, &out, &err) == 0) {
        if (!json_is_array(out))
            abort();
        json_decref(out);
    }
    return 0;
}
