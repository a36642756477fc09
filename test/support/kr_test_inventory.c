/* libkreconcile tests — implementation of kr_test_inventory.h. */
#include "kr_test_inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *kr_test_inventory_doubled(kr_inventory_t *inv)
{
    json_t *all = NULL;
    kr_error_t err = {0};
    if (kr_inventory_transactions_after(inv, 0, 1000000, &all, &err) != 0)
        return strdup(err.message);
    json_t *seen = json_object();
    char *doubled = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t)
    {
        const char *event = json_string_value(json_object_get(t, "event"));
        if (strcmp(json_string_value(json_object_get(t, "actor")), "informer") != 0)
            continue; /* actions may repeat */
        char key[512];
        snprintf(key, sizeof(key), "%s/%s/%s/%s", json_string_value(json_object_get(t, "cluster")),
                 json_string_value(json_object_get(t, "uid")),
                 json_string_value(json_object_get(t, "resourceVersion")),
                 strncmp(event, "DELETED", 7) == 0 ? "gone" : "live");
        if (json_object_get(seen, key)) {
            doubled = strdup(key);
            break;
        }
        json_object_set_new(seen, key, json_true());
    }
    json_decref(seen);
    json_decref(all);
    return doubled;
}
