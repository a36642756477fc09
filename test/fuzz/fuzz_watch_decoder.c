/* Fuzz target for the watch stream decoder: the first two bytes choose
 * where the rest is split into three chunks and the event size limit; the
 * decoder must return an error or events, never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "client_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_event(kr_watch_event_type type, json_t *object, void *user)
{
    size_t *n = user;
    if (type < KR_WATCH_ADDED || type > KR_WATCH_ERROR || !json_is_object(object))
        __builtin_trap();
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t body = size - 2;
    size_t cut1 = body ? data[0] % (body + 1) : 0;
    size_t cut2 = cut1 + (body - cut1 ? data[1] % (body - cut1 + 1) : 0);
    size_t limit = (data[1] & 0x80) ? 64 + data[0] : 0;
    const char *text = (const char *)data + 2;
    kr_watch_decoder d;
    kr_watch_decoder_init(&d, limit);
    size_t events = 0;
    int rc = kr_watch_decoder_feed(&d, text, cut1, count_event, &events, NULL);
    if (rc == 0)
        rc = kr_watch_decoder_feed(&d, text + cut1, cut2 - cut1, count_event, &events, NULL);
    if (rc == 0)
        rc = kr_watch_decoder_feed(&d, text + cut2, body - cut2, count_event, &events, NULL);
    if (rc == 0)
        kr_watch_decoder_finish(&d, NULL);
    kr_watch_decoder_free(&d);
    return 0;
}
