/* libkreconcile tests — a strict parser of the Prometheus text exposition
 * format (version 0.0.4), to check what the library renders by reading it
 * back. Test-only. */
#ifndef KR_TEST_PROMTEXT_H
#define KR_TEST_PROMTEXT_H

#include <stdbool.h>

#define KR_PROM_MAX_SAMPLES 1024
#define KR_PROM_MAX_LABELS 6

struct kr_prom_sample {
    char name[96];
    int nlabels;
    char label_name[KR_PROM_MAX_LABELS][32];
    char label_value[KR_PROM_MAX_LABELS][128];
    double value;
};

struct kr_prom_family {
    char name[96];
    char type[16];
    char help[256];
};

struct kr_prom_parsed {
    struct kr_prom_sample samples[KR_PROM_MAX_SAMPLES];
    int nsamples;
    struct kr_prom_family families[128];
    int nfamilies;
};

/* Parse `text` into *out (every line must be valid); returns NULL, or a
 * description of the first error (a static string). */
const char *kr_prom_parse(const char *text, struct kr_prom_parsed *out);

#endif /* KR_TEST_PROMTEXT_H */
