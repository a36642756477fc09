/* libkreconcile-testserver — metav1.Time and metav1.MicroTime values read
 * as their UnmarshalJSON reads them and written as their MarshalJSON
 * writes them. Time parses time.RFC3339 ("2006-01-02T15:04:05Z07:00",
 * a fractional second accepted after the seconds), MicroTime
 * "2006-01-02T15:04:05.000000Z07:00" (exactly six digits); either is
 * written back in UTC, Time to the second, MicroTime to the microsecond,
 * and the zero time as null. A text time.Parse refuses fails the write
 * with time.ParseError's message, which this file reproduces for the
 * layouts' elements in Go's order. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

static const char RFC3339[] = "2006-01-02T15:04:05Z07:00";
static const char RFC3339_MICRO[] = "2006-01-02T15:04:05.000000Z07:00";

/* time.quote: Go's quoting of a parse error's texts. */
static void go_quote(kr_buf *b, const char *s, size_t len)
{
    kr_buf_append_str(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || c < ' ')
            kr_buf_printf(b, "\\x%02x", c);
        else if (c == '"' || c == '\\')
            kr_buf_printf(b, "\\%c", c);
        else
            kr_buf_printf(b, "%c", c);
    }
    kr_buf_append_str(b, "\"");
}

typedef struct tparse {
    const char *value, *end; /* the whole text */
    const char *layout;
    kr_buf *err;
} tparse;

/* ParseError with no message: cannot parse `rest` as `elem`. */
static bool cannot(tparse *t, const char *rest, const char *elem)
{
    kr_buf_append_str(t->err, "parsing time ");
    go_quote(t->err, t->value, (size_t)(t->end - t->value));
    kr_buf_append_str(t->err, " as ");
    go_quote(t->err, t->layout, strlen(t->layout));
    kr_buf_append_str(t->err, ": cannot parse ");
    go_quote(t->err, rest, (size_t)(t->end - rest));
    kr_buf_append_str(t->err, " as ");
    go_quote(t->err, elem, strlen(elem));
    return false;
}

/* ParseError with a message: `what` out of range, or extra text. */
static bool message(tparse *t, const char *what, const char *extra)
{
    kr_buf_append_str(t->err, "parsing time ");
    go_quote(t->err, t->value, (size_t)(t->end - t->value));
    if (extra) {
        kr_buf_append_str(t->err, ": extra text: ");
        go_quote(t->err, extra, (size_t)(t->end - extra));
    } else {
        kr_buf_printf(t->err, ": %s out of range", what ? what : "");
    }
    return false;
}

static bool digit_at(const char *p, const char *end, size_t i)
{
    return p + i < end && p[i] >= '0' && p[i] <= '9';
}

/* time's getnum: one or two digits (two when `fixed`); -1 when bad. */
static int getnum(const char **p, const char *end, bool fixed)
{
    if (!digit_at(*p, end, 0))
        return -1;
    if (!digit_at(*p, end, 1)) {
        if (fixed)
            return -1;
        return *(*p)++ - '0';
    }
    int n = ((*p)[0] - '0') * 10 + ((*p)[1] - '0');
    *p += 2;
    return n;
}

static bool literal(tparse *t, const char **p, char c)
{
    if (*p >= t->end || **p != c) {
        char elem[2] = {c, '\0'};
        return cannot(t, *p, elem);
    }
    (*p)++;
    return true;
}

static bool leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int month, long year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && leap(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a civil date (any year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* time.Parse(layout, [s, end)) for the two layouts: the instant as UTC
 * seconds since the epoch and nanoseconds, or false with the error. */
static bool parse(tparse *t, bool micro, int64_t *secs, long *nsec)
{
    const char *p = t->value, *end = t->end, *hold;
    long year = 0, ns = 0;
    int offset = 0;
    /* 2006 */
    if (end - p < 4 || !digit_at(p, end, 0))
        return cannot(t, p, "2006");
    for (int i = 0; i < 4; i++) {
        if (!digit_at(p, end, (size_t)i))
            return cannot(t, p, "2006");
        year = year * 10 + (p[i] - '0');
    }
    p += 4;
    /* month, day, hour, minute, second: each after its separator, with
     * time.Parse's range checks (any two digits pass for the day here: its
     * check comes once the month is known) */
    static const struct {
        char sep;
        const char *elem, *what;
        bool fixed;
        int min, max;
    } elems[] = {{'-', "01", "month", true, 1, 12},
                 {'-', "02", "day", true, 0, 99},
                 {'T', "15", "hour", false, 0, 23},
                 {':', "04", "minute", true, 0, 59},
                 {':', "05", "second", true, 0, 59}};
    int v[5];
    for (size_t i = 0; i < 5; i++) {
        if (!literal(t, &p, elems[i].sep))
            return false;
        hold = p;
        if ((v[i] = getnum(&p, end, elems[i].fixed)) < 0)
            return cannot(t, hold, elems[i].elem);
        if (v[i] < elems[i].min || v[i] > elems[i].max)
            return message(t, elems[i].what, NULL);
    }
    int month = v[0], day = v[1], hour = v[2], min = v[3], sec = v[4];
    if (!micro && end - p >= 2 && (*p == '.' || *p == ',') && digit_at(p, end, 1)) {
        /* a fractional second the layout does not name: any digits */
        size_t n = 2;
        while (digit_at(p, end, n))
            n++;
        size_t used = n > 10 ? 10 : n;
        for (size_t i = 1; i < 10; i++)
            ns = ns * 10 + (i < used ? p[i] - '0' : 0);
        p += n;
    } else if (micro) {
        hold = p;
        if (end - p < 7 || (*p != '.' && *p != ','))
            return cannot(t, hold, ".000000");
        for (int i = 1; i < 7; i++) {
            if (!digit_at(p, end, (size_t)i))
                return cannot(t, hold, ".000000");
            ns = ns * 10 + (p[i] - '0');
        }
        ns *= 1000;
        p += 7;
    }
    /* Z07:00 */
    hold = p;
    if (p < end && *p == 'Z') {
        p++;
    } else {
        if (end - p < 6 || p[3] != ':')
            return cannot(t, hold, "Z07:00");
        const char *hh = p + 1, *mm = p + 4;
        int oh = getnum(&hh, end, true), om = oh < 0 ? -1 : getnum(&mm, end, true);
        if (oh < 0 || om < 0)
            return cannot(t, hold, "Z07:00");
        if (om > 60)
            return message(t, "time zone offset minute", NULL);
        if (oh > 24)
            return message(t, "time zone offset hour", NULL);
        if (*p != '+' && *p != '-')
            return cannot(t, hold, "Z07:00");
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    }
    if (p < end)
        return message(t, NULL, p);
    if (day < 1 || day > days_in(month, year))
        return message(t, "day", NULL);
    *secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
    *nsec = ns;
    return true;
}

/* The zero time.Time, 0001-01-01T00:00:00Z, in seconds since the epoch. */
#define ZERO_TIME_SECS (-62135596800LL)

const char *ts_go_time_text(const char *in, bool micro, char *out, size_t size, kr_buf *err)
{
    tparse t = {in, in + strlen(in), micro ? RFC3339_MICRO : RFC3339, err};
    int64_t secs = 0;
    long ns = 0;
    if (!parse(&t, micro, &secs, &ns))
        return err->data ? err->data : "out of memory";
    if (secs == ZERO_TIME_SECS && ns == 0) {
        *out = '\0'; /* the zero time: null */
        return NULL;
    }
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rest = secs - days * 86400, year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999) {
        snprintf(out, size, "%s", in); /* MarshalJSON would fail: kept */
        return NULL;
    }
    int n = snprintf(out, size, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)year, month, day,
                     (int)(rest / 3600), (int)(rest / 60 % 60), (int)(rest % 60));
    if (n > 0 && (size_t)n < size && micro)
        snprintf(out + n, size - (size_t)n, ".%06ldZ", ns / 1000);
    else if (n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "Z");
    return NULL;
}
