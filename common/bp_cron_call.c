/* bp_cron_call.c -- the options side of cron-parser 4.9.0 as Bull's getNextMillis uses it:
 * which zone luxon makes of repeat.tz, the validation of startDate and endDate (CronDate
 * throws "CronDate: unhandled timestamp: <JSON>"), and the ISO 8601 date strings that
 * JSON.stringify(new Date()) leaves in a job's opts. The grammar is bp_cron_parse.c, the walk
 * bp_cron.c.
 *
 * cron-parser builds currentDate before startDate and endDate, so a zone it cannot use is
 * reported with currentDate's text, even when the dates are bad too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp_cron.h"
#include "bp_cron_int.h"
#include "bp_jsnum.h"

#define BP_MAX_DATE_MS 8.64e15 /* ECMAScript's time range: +-100,000,000 days */

void bp_cron_iso_text(int64_t ms, char *buf, size_t cap)
{
    int64_t days = ms / 86400000 - (ms % 86400000 < 0), rem = ms - days * 86400000, y;
    int m, d;

    bp_civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999)
        snprintf(buf, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                 (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                 (int)(rem % 1000));
    else
        snprintf(buf, cap, "%c%06lld-%02d-%02dT%02d:%02d:%02d.%03dZ", y < 0 ? '-' : '+',
                 (long long)(y < 0 ? -y : y), m, d, (int)(rem / 3600000), (int)(rem / 60000 % 60),
                 (int)(rem / 1000 % 60), (int)(rem % 1000));
}

/* n digits at *p into *v; advances *p. Returns 0, or -1 when there are fewer digits. */
static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 0;
}

int bp_cron_iso_ms(const char *s, const bp_tz *zone, bool js_date, int64_t *out)
{
    int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0, oh, om = 0;
    bool has_time = false, has_off = false;
    int64_t off = 0, local;

    if (digits(&s, 4, &y) != 0)
        return -1;
    if (*s == '-') {
        s++;
        if (digits(&s, 2, &mo) != 0)
            return -1;
        if (*s == '-') {
            s++;
            if (digits(&s, 2, &d) != 0)
                return -1;
        }
    }
    if (*s == 'T' || *s == ' ') {
        s++;
        has_time = true;
        if (digits(&s, 2, &h) != 0 || *s++ != ':' || digits(&s, 2, &mi) != 0)
            return -1;
        if (*s == ':') {
            s++;
            if (digits(&s, 2, &sec) != 0)
                return -1;
            if (*s == '.' || *s == ',') {
                int scale = 100, n = 0;

                s++;
                for (; *s >= '0' && *s <= '9'; s++, n++) {
                    ms += (*s - '0') * scale;
                    scale /= 10;
                }
                if (n == 0)
                    return -1;
            }
        }
    }
    if (*s == 'Z') {
        s++;
        has_off = true;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1;

        if (digits(&s, 2, &oh) != 0)
            return -1;
        if (*s == ':')
            s++;
        if (*s >= '0' && *s <= '9' && digits(&s, 2, &om) != 0)
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600000LL + om * 60000LL);
        has_off = true;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
        return -1;
    {
        static const int dim[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        if (d > dim[mo - 1] || (mo == 2 && d == 29 && !leap))
            return -1;
    }
    local = bp_days_from_civil(y, mo, d) * 86400000LL + h * 3600000LL + mi * 60000LL +
            sec * 1000LL + ms;
    if (has_off)
        *out = local - off;
    else if ((js_date && !has_time) || zone == NULL)
        *out = local;
    else
        *out = bp_cron_fix_offset(zone, local, bp_cron_offset_ms(zone, local));
    return 0;
}

/* luxon's normalizeZone for a string: NULL *out and 0 means the local zone. */
static int zone_from_text(const char *name, bp_tz **out, bp_err *err)
{
    size_t n = strlen(name);
    int h = 0, m = 0, sign = 1;
    const char *p;

    *out = NULL;
    if (strcasecmp(name, "default") == 0 || strcasecmp(name, "local") == 0 ||
        strcasecmp(name, "system") == 0)
        return bp_tz_load(out, NULL, err);
    if (strcasecmp(name, "utc") == 0 || strcasecmp(name, "gmt") == 0) {
        *out = bp_tz_fixed("UTC", 0);
        return *out != NULL ? 0 : -1;
    }
    /* ^utc([+-]\d{1,2})(:(\d{2}))?$, case-insensitive */
    if (n > 4 && strncasecmp(name, "utc", 3) == 0 && (name[3] == '+' || name[3] == '-')) {
        sign = name[3] == '-' ? -1 : 1;
        p = name + 4;
        if (*p >= '0' && *p <= '9') {
            h = *p++ - '0';
            if (*p >= '0' && *p <= '9')
                h = h * 10 + (*p++ - '0');
            if (*p == ':' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9') {
                m = (p[1] - '0') * 10 + (p[2] - '0');
                p += 3;
            }
            if (*p == '\0') {
                /* luxon's signedOffset: the minutes take the sign of the hours */
                *out = bp_tz_fixed(name, sign * (h * 3600 + m * 60));
                return *out != NULL ? 0 : -1;
            }
        }
    }
    return bp_tz_load(out, name, err);
}

/* CronDate's check of startDate/endDate: a truthy value must make a valid luxon DateTime.
 * Returns 0 with *ms (has = false when the value is falsy and so ignored), or -1 with err
 * set to CronDate's message. */
static int option_date(const json_t *v, const bp_tz *zone, bool *has, int64_t *ms, bp_err *err)
{
    char *text;

    *has = false;
    if (v == NULL || json_is_null(v) || json_is_false(v) ||
        (json_is_number(v) && json_number_value(v) == 0) ||
        (json_is_string(v) && json_string_length(v) == 0))
        return 0;
    if (json_is_number(v) && fabs(json_number_value(v)) <= BP_MAX_DATE_MS) {
        *ms = (int64_t)json_number_value(v);
        *has = true;
        return 0;
    }
    if (json_is_string(v) && bp_cron_iso_ms(json_string_value(v), zone, false, ms) == 0 &&
        fabs((double)*ms) <= BP_MAX_DATE_MS) {
        *has = true;
        return 0;
    }
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (json_is_number(v)) {
        char num[40];

        bp_js_number_text(json_number_value(v), num, sizeof(num));
        bp_err_set(err, BP_ERR_NONE, 0, "CronDate: unhandled timestamp: %s", num);
    } else {
        bp_err_set(err, BP_ERR_NONE, 0, "CronDate: unhandled timestamp: %s",
                   text != NULL ? text : "?");
    }
    free(text);
    return -1;
}

int bp_cron_eval(const char *expr, const bp_cron_opts *o, int64_t *next_ms, bp_err *err)
{
    bp_cron *cron = NULL;
    bp_tz *zone = NULL;
    bp_err zerr;
    bool has_start, has_end;
    int64_t start_ms, end_ms;
    int rc = -1;

    if (bp_cron_parse(&cron, expr, err) != 0)
        return -1;
    if (o->utc) {
        zone = bp_tz_fixed("UTC", 0);
    } else if (o->tz == NULL || json_is_null(o->tz)) {
        if (bp_tz_load(&zone, NULL, &zerr) != 0)
            zone = NULL;
    } else if (json_is_string(o->tz)) {
        if (zone_from_text(json_string_value(o->tz), &zone, &zerr) != 0)
            zone = NULL;
    } else if (json_is_number(o->tz) && isfinite(json_number_value(o->tz))) {
        zone = bp_tz_fixed("fixed", (int32_t)(json_number_value(o->tz) * 60));
    }
    if (zone == NULL) {
        char iso[40];

        bp_cron_iso_text(o->current_ms, iso, sizeof(iso));
        bp_err_set(err, BP_ERR_NONE, 0, "CronDate: unhandled timestamp: \"%s\"", iso);
        goto out_free;
    }
    if (option_date(o->start_date, zone, &has_start, &start_ms, err) != 0 ||
        option_date(o->end_date, zone, &has_end, &end_ms, err) != 0)
        goto out_free;
    rc = bp_cron_next(cron, zone, o->current_ms, has_end, end_ms, next_ms, err);

out_free:
    bp_tz_free(zone);
    bp_cron_free(cron);
    return rc;
}
