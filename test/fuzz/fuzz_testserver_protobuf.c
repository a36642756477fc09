/* Fuzz target for the test server's Kubernetes protobuf decoder: any bytes
 * (the corpus holds bodies kubectl sent) must decode to a JSON object or be
 * refused with a message, never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "testserver/ts_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    msg[0] = '\0';
    json_t *obj = ts_pb_decode_body(data, size, msg, sizeof(msg));
    if (obj ? !json_is_object(obj) : msg[0] == '\0')
        __builtin_trap();
    json_decref(obj);
    return 0;
}
