/* Fuzz target: arbitrary bytes through the YAML converter (single and
 * multi-document); the result must serialise and parse back as JSON. */
#include <stdint.h>
#include <stdlib.h>

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
        json_decref(out);
    }
    if (kr_yaml_parse_all((const char *)data, size, &out, &err) == 0) {
        if (!json_is_array(out))
            abort();
        json_decref(out);
    }
    return 0;
}
