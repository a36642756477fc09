/* Fuzz target for the label and field selector parsers: any input either
 * fails with KR_EPARSE and a message, or parses into a selector whose
 * canonical text parses back to the same text. Matching must not crash. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *sample_labels(void)
{
    return json_pack("{s:s,s:s,s:s,s:i}", "app", "web", "n", "7", "example.com/k", "", "x", 1);
}

static void check_label(const char *text, const json_t *labels)
{
    kr_selector_t *sel = NULL;
    kr_error_t err = {0};
    int rc = kr_selector_parse(text, &sel, &err);
    if (rc != 0) {
        if (rc != KR_EPARSE && rc != KR_ENOMEM)
            abort();
        if (err.message[0] == '\0' || sel != NULL)
            abort();
        return;
    }
    (void)kr_selector_matches(sel, labels);
    char *canon = kr_selector_to_string(sel);
    if (canon) {
        kr_selector_t *again = NULL;
        if (kr_selector_parse(canon, &again, &err) != 0)
            abort();
        char *canon2 = kr_selector_to_string(again);
        if (canon2 && strcmp(canon, canon2) != 0)
            abort();
        if (kr_selector_matches(sel, labels) != kr_selector_matches(again, labels))
            abort();
        kr_free(canon2);
        kr_selector_free(again);
    }
    kr_free(canon);
    kr_selector_free(sel);
}

static void check_field(const char *text)
{
    kr_field_selector_t *sel = NULL;
    kr_error_t err = {0};
    int rc = kr_field_selector_parse(text, &sel, &err);
    if (rc != 0) {
        if ((rc != KR_EPARSE && rc != KR_ENOMEM) || sel != NULL)
            abort();
        return;
    }
    json_t *obj = json_pack("{s:{s:s,s:s}}", "metadata", "name", "a", "namespace", "b");
    (void)kr_field_selector_matches(sel, obj, NULL, NULL);
    char *canon = kr_field_selector_to_string(sel);
    if (canon) {
        kr_field_selector_t *again = NULL;
        if (kr_field_selector_parse(canon, &again, &err) != 0)
            abort();
        char *canon2 = kr_field_selector_to_string(again);
        if (canon2 && strcmp(canon, canon2) != 0)
            abort();
        if (kr_field_selector_matches(sel, obj, NULL, NULL) !=
            kr_field_selector_matches(again, obj, NULL, NULL))
            abort();
        kr_free(canon2);
        kr_field_selector_free(again);
    }
    kr_free(canon);
    json_decref(obj);
    kr_field_selector_free(sel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *labels = sample_labels();
    check_label(text, labels);
    check_field(text);
    json_decref(labels);
    free(text);
    return 0;
}
