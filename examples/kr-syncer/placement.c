/* kr-syncer — placement: the workload clusters a hub object names that
 * are not configured (the kreconcile.io/clusters annotation; which objects
 * are synced at all, and where, is the library's reading, shared with
 * kr-sweeper: kr_managed_unsynced_reason, kr_managed_placed). Pure. */
#include <string.h>

#include "syncer.h"

static const char *annotation(const json_t *obj, const char *name)
{
    const json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
    return json_string_value(json_object_get(annotations, name));
}

/* The length of at most `max` bytes of `s` (`len` bytes) that ends at a
 * character: a UTF-8 sequence is never cut in two. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues the sequence begun before it */
    return n;
}

bool syncer_unknown_placement(const json_t *hub, const char *const *clusters, size_t n, char *out,
                              size_t len)
{
    const char *p = annotation(hub, KR_ANNOTATION_CLUSTERS);
    size_t used = 0;
    bool any = false, full = false;
    if (len)
        out[0] = '\0';
    size_t want;
    for (const char *start; (start = kr_managed_placement_next(&p, &want));) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strlen(clusters[i]) == want && memcmp(clusters[i], start, want) == 0;
        if (known)
            continue;
        any = true;
        size_t sep = used ? 1 : 0;
        if (full || len == 0)
            continue;
        if (used + sep + want < len) { /* whole names only */
            if (sep)
                out[used++] = ',';
            memcpy(out + used, start, want);
            used += want;
            out[used] = '\0';
            continue;
        }
        /* what does not fit ends the list with "..." (the text is a log
         * line's and an Event's message: it stays UTF-8); a first name
         * longer than the room is told cut */
        full = true;
        if (used == 0 && len > 4) {
            used = utf8_prefix(start, want, len - 4);
            memcpy(out, start, used);
        } else if (used + sep + 3 >= len) {
            continue; /* no room for the mark: the names told stay as they are */
        } else if (sep) {
            out[used++] = ',';
        }
        memcpy(out + used, "...", 4);
        used += 3;
    }
    return any;
}

/* The library's reading, shared with kr-sweeper: the sweeper deletes a
 * copy that this says is not placed, so the two must never differ. */
bool syncer_placed(const json_t *hub, const char *cluster)
{
    return kr_managed_placed(hub, cluster);
}
