/* libkreconcile tests — a strict parser of the Prometheus text exposition
 * format (version 0.0.4): HELP and TYPE lines, samples with escaped label
 * values, +Inf. Test-only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_promtext.h"

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

const char *kr_prom_parse(const char *text, struct kr_prom_parsed *out)
{
    static char why[128];
    memset(out, 0, sizeof(*out));
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            return "last line lacks a newline";
        if (strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0) {
            bool help = p[2] == 'H';
            const char *n = p + 7;
            const char *e = n;
            while (e < eol && *e != ' ')
                e++;
            if (e == eol)
                return "HELP/TYPE without text";
            struct kr_prom_family *f = NULL;
            for (int i = 0; i < out->nfamilies; i++)
                if (strncmp(out->families[i].name, n, (size_t)(e - n)) == 0 &&
                    out->families[i].name[e - n] == '\0')
                    f = &out->families[i];
            if (!f) {
                f = &out->families[out->nfamilies++];
                snprintf(f->name, sizeof(f->name), "%.*s", (int)(e - n), n);
            }
            if (help) {
                /* unescape \\ and \n */
                size_t j = 0;
                for (const char *c = e + 1; c < eol && j + 1 < sizeof(f->help); c++) {
                    if (*c == '\\') {
                        c++;
                        f->help[j++] = *c == 'n' ? '\n' : *c;
                    } else {
                        f->help[j++] = *c;
                    }
                }
                f->help[j] = '\0';
            } else {
                snprintf(f->type, sizeof(f->type), "%.*s", (int)(eol - e - 1), e + 1);
                if (strcmp(f->type, "counter") && strcmp(f->type, "gauge") &&
                    strcmp(f->type, "histogram"))
                    return "unknown TYPE";
            }
            p = eol + 1;
            continue;
        }
        if (*p == '#')
            return "unexpected comment";
        if (out->nsamples == KR_PROM_MAX_SAMPLES)
            return "too many samples";
        struct kr_prom_sample *s = &out->samples[out->nsamples++];
        const char *c = p;
        size_t n = 0;
        if (!name_char(*c, true))
            return "sample name starts badly";
        while (name_char(*c, false) && n + 1 < sizeof(s->name))
            s->name[n++] = *c++;
        if (*c == '{') {
            c++;
            while (*c != '}') {
                if (s->nlabels == KR_PROM_MAX_LABELS)
                    return "too many labels";
                size_t ln = 0;
                if (!name_char(*c, true))
                    return "label name starts badly";
                while (name_char(*c, false) && ln + 1 < 32)
                    s->label_name[s->nlabels][ln++] = *c++;
                if (c[0] != '=' || c[1] != '"')
                    return "label without =\"";
                c += 2;
                size_t vn = 0;
                while (*c != '"') {
                    if (*c == '\n' || *c == '\0')
                        return "unterminated label value";
                    char ch = *c++;
                    if (ch == '\\') {
                        ch = *c++;
                        if (ch == 'n')
                            ch = '\n';
                        else if (ch != '\\' && ch != '"')
                            return "bad escape in label value";
                    }
                    if (vn + 1 < sizeof(s->label_value[0]))
                        s->label_value[s->nlabels][vn++] = ch;
                }
                c++;
                s->nlabels++;
                if (*c == ',')
                    c++;
                else if (*c != '}')
                    return "labels not separated by ,";
            }
            c++;
        }
        if (*c != ' ')
            return "no space before the value";
        c++;
        char *end;
        if (strncmp(c, "+Inf", 4) == 0) {
            s->value = INFINITY;
            end = (char *)c + 4;
        } else {
            s->value = strtod(c, &end);
        }
        if (end == c || end != eol) {
            snprintf(why, sizeof(why), "bad value in line: %.*s", (int)(eol - p), p);
            return why;
        }
        p = eol + 1;
    }
    return NULL;
}
