/* bp_cron.c -- the next instant a parsed cron expression matches, computed the way
 * cron-parser 4.9.0 does it on top of luxon 3, so that bullpen schedules a repeat at the
 * same millisecond as a Bull worker would, also across DST changes.
 *
 * cron-parser does not solve for the next match; it walks: from the start instant it checks
 * day of month/weekday, month, hour, minute, second in that order, and on the first field
 * that does not match it advances that unit (to the start of the next day, month, hour,
 * minute or second) and starts over, for at most 10000 steps. The DST behaviour falls out of
 * how luxon does that arithmetic in a zone, so this file models luxon's DateTime exactly: an
 * instant plus a zone, local fields derived from the zone's offset at that instant, and
 * every "set the local fields" operation resolved back to an instant by luxon's fixOffset
 * (guess with the current offset, correct once, and in a gap take the later offset). On top
 * of that come cron-parser's own DST rules (_applyTimezoneShift: an hour that jumps by 2
 * marks a DST start, an hour that repeats marks a DST end, and the hour field then gets a
 * second chance), kept step for step, including the order of the day checks. */
#include "bp_cron.h"

#include <stdlib.h>
#include <string.h>

#include "bp_cron_int.h"

#define BP_CRON_LOOP_LIMIT 10000 /* cron-parser's LOOP_LIMIT: steps before it gives up */
#define MS_SECOND          1000LL
#define MS_MINUTE          60000LL
#define MS_HOUR            3600000LL
#define MS_DAY             86400000LL
#define NO_HOUR            (-100) /* cron-parser's undefined/null _dstStart and _dstEnd */

/* cron-parser's days per month (February 29), used for its "every day" test */
static const int max_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

typedef struct local_time {
    int64_t year;
    int month, day, hour, minute, second, ms; /* month 1-12 */
    int weekday;                              /* 0 = Sunday */
} local_time;

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int days_in_month(int64_t y, int m)
{
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? (leap ? 29 : 28) : max_days[m - 1];
}

/* luxon's zone.offset(ts): the offset at the second ts falls in, in ms */
int64_t bp_cron_offset_ms(const bp_tz *tz, int64_t ts)
{
    return (int64_t)bp_tz_offset(tz, floor_div(ts, MS_SECOND)) * MS_SECOND;
}

static void local_of(const bp_tz *tz, int64_t ts, local_time *lt)
{
    int64_t l = ts + bp_cron_offset_ms(tz, ts), days = floor_div(l, MS_DAY),
            rem = l - days * MS_DAY;

    bp_civil_from_days(days, &lt->year, &lt->month, &lt->day);
    lt->hour = (int)(rem / MS_HOUR);
    lt->minute = (int)(rem / MS_MINUTE % 60);
    lt->second = (int)(rem / MS_SECOND % 60);
    lt->ms = (int)(rem % MS_SECOND);
    lt->weekday = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
}

/* Date.UTC of local fields (the day and month may overflow) */
static int64_t local_ts(const local_time *lt)
{
    return bp_days_from_civil(lt->year, lt->month, lt->day) * MS_DAY + lt->hour * MS_HOUR +
           lt->minute * MS_MINUTE + lt->second * MS_SECOND + lt->ms;
}

/* luxon's fixOffset: the instant for local time local, guessing offset o first */
int64_t bp_cron_fix_offset(const bp_tz *tz, int64_t local, int64_t o)
{
    int64_t utc = local - o, o2 = bp_cron_offset_ms(tz, utc), o3;

    if (o == o2)
        return utc;
    utc -= o2 - o;
    o3 = bp_cron_offset_ms(tz, utc);
    if (o2 == o3)
        return utc;
    return local - (o2 < o3 ? o2 : o3); /* a gap: keep the wall time, take the later offset */
}

/* DateTime.plus({days: n}) and plus({months: n}): calendar arithmetic on the local fields */
static int64_t plus_calendar(const bp_tz *tz, int64_t ts, int months, int days)
{
    local_time lt;
    int64_t y;
    int m, dim;

    local_of(tz, ts, &lt);
    m = lt.month + months;
    y = lt.year + (m - 1) / 12;
    m = (m - 1) % 12 + 1;
    dim = days_in_month(y, m);
    lt.month += months;
    lt.day = (lt.day < dim ? lt.day : dim) + days;
    return bp_cron_fix_offset(tz, local_ts(&lt), bp_cron_offset_ms(tz, ts));
}

enum unit { UNIT_MONTH, UNIT_DAY, UNIT_HOUR, UNIT_MINUTE, UNIT_SECOND };

/* DateTime.startOf(unit): zero the smaller local fields, resolve with the current offset */
static int64_t start_of(const bp_tz *tz, int64_t ts, enum unit u)
{
    local_time lt;

    local_of(tz, ts, &lt);
    switch (u) {
    case UNIT_MONTH:
        lt.day = 1;
        /* fall through */
    case UNIT_DAY:
        lt.hour = 0;
        /* fall through */
    case UNIT_HOUR:
        lt.minute = 0;
        /* fall through */
    case UNIT_MINUTE:
        lt.second = 0;
        /* fall through */
    case UNIT_SECOND:
        lt.ms = 0;
        break;
    }
    return bp_cron_fix_offset(tz, local_ts(&lt), bp_cron_offset_ms(tz, ts));
}

/* CronDate.addHour/addMinute/addSecond: plus one unit of elapsed time, start of it, and
 * one hour more when that went backwards (a repeated hour) */
static int64_t add_time(const bp_tz *tz, int64_t ts, enum unit u)
{
    int64_t step = u == UNIT_HOUR ? MS_HOUR : u == UNIT_MINUTE ? MS_MINUTE : MS_SECOND;
    int64_t t = start_of(tz, ts + step, u);

    if (u == UNIT_HOUR ? t <= ts : t < ts)
        t += MS_HOUR;
    return t;
}

/* CronDate.subtractHour: one hour back, to the last second of that hour */
static int64_t subtract_hour(const bp_tz *tz, int64_t ts)
{
    int64_t t = ts - MS_HOUR;

    t = start_of(tz, start_of(tz, t + MS_HOUR, UNIT_HOUR) - 1, UNIT_SECOND);
    if (t >= ts)
        t -= MS_HOUR;
    return t;
}

static bool matches(const bp_cron_field *f, int v)
{
    return v >= 0 && v < BP_CRON_VALUES && f->cnt[v] > 0;
}

typedef struct walk {
    const bp_cron *cron;
    const bp_tz *tz;
    int64_t ts;    /* the current candidate */
    int dst_start; /* cron-parser's _dstStart, NO_HOUR when unset */
    int dst_end;   /* cron-parser's _dstEnd */
} walk;

/* _applyTimezoneShift(currentDate, 'add', unit) */
static void shift(walk *w, enum unit u)
{
    local_time before, after;

    if (u == UNIT_MONTH || u == UNIT_DAY) {
        int64_t prev = w->ts;

        w->ts = u == UNIT_MONTH ? start_of(w->tz, plus_calendar(w->tz, w->ts, 1, 0), UNIT_MONTH)
                                : start_of(w->tz, plus_calendar(w->tz, w->ts, 0, 1), UNIT_DAY);
        if (w->ts == prev) { /* landed on a local time that does not exist */
            local_of(w->tz, w->ts, &after);
            if (after.minute == 0 && after.second == 0)
                w->ts = add_time(w->tz, w->ts, UNIT_HOUR);
            else if (after.minute == 59 && after.second == 59)
                w->ts = subtract_hour(w->tz, w->ts);
        }
        return;
    }
    local_of(w->tz, w->ts, &before);
    w->ts = add_time(w->tz, w->ts, u);
    local_of(w->tz, w->ts, &after);
    if (after.hour - before.hour == 2) { /* DST started */
        if (w->cron->f[BP_CRON_HOUR].len != 24)
            w->dst_start = after.hour;
    } else if (after.hour == before.hour && after.minute == 0 && after.second == 0) {
        if (w->cron->f[BP_CRON_HOUR].len != 24) /* DST ended: the hour repeats */
            w->dst_end = after.hour;
    }
}

static bool is_last_day_of_month(const walk *w, const local_time *lt, int days)
{
    local_time n;

    local_of(w->tz, start_of(w->tz, plus_calendar(w->tz, w->ts, 0, days), UNIT_DAY), &n);
    return n.month != lt->month;
}

/* isLastWeekdayOfMonthMatch: "5L" is the last Friday; a string whose first character is no
 * digit makes cron-parser throw (at evaluation, not at parse). Returns 1, 0, or -1. */
static int last_weekday_match(const walk *w, const local_time *lt, bp_err *err)
{
    const bp_cron_field *dow = &w->cron->f[BP_CRON_DOW];

    for (size_t i = 0; i < dow->nstrs; i++) {
        const char *s = dow->strs[i];

        if (!(s[0] >= '0' && s[0] <= '9')) {
            bp_err_set(err, BP_ERR_NONE, 0, "Invalid last weekday of the month expression: %s", s);
            return -1;
        }
        if (lt->weekday == (s[0] - '0') % 7 && is_last_day_of_month(w, lt, 7))
            return 1;
    }
    return 0;
}

/* isNthDayMatch, with its arithmetic */
static bool nth_day_match(int day, double nth)
{
    int occurrence;

    if (nth >= 6)
        return false;
    if (day < 8 && nth == 1)
        return true;
    occurrence = (day - day % 7) / 7 + (day % 7 != 0 ? 1 : 0);
    return occurrence == nth;
}

int bp_cron_next(const bp_cron *cron, const bp_tz *tz, int64_t from_ms, bool has_end,
                 int64_t end_ms, int64_t *next_ms, bp_err *err)
{
    const bp_cron_field *f = cron->f;
    walk w = {cron, tz, from_ms, NO_HOUR, NO_HOUR};
    int steps = 0;

    while (steps < BP_CRON_LOOP_LIMIT) {
        local_time lt;
        bool dom_match, dow_match, dom_any, dow_any;
        int rc;

        steps++;
        if (has_end && end_ms - w.ts < 0) {
            bp_err_set(err, BP_ERR_NONE, 0, "Out of the timespan range");
            return 0;
        }
        local_of(tz, w.ts, &lt);
        dom_match = matches(&f[BP_CRON_DOM], lt.day);
        if (f[BP_CRON_DOM].nstrs > 0 && !dom_match)
            dom_match = is_last_day_of_month(&w, &lt, 1);
        dow_match = matches(&f[BP_CRON_DOW], lt.weekday);
        if (f[BP_CRON_DOW].nstrs > 0 && !dow_match) {
            if ((rc = last_weekday_match(&w, &lt, err)) < 0)
                return 0;
            dow_match = rc == 1;
        }
        dom_any = f[BP_CRON_DOM].len >= (size_t)max_days[lt.month - 1];
        dow_any = f[BP_CRON_DOW].len == 8;

        if ((!dom_match && (!dow_match || dow_any)) || (!dom_any && dow_any && !dom_match) ||
            (dom_any && !dow_any && !dow_match) ||
            (cron->nth > 0 && !nth_day_match(lt.day, cron->nth))) {
            shift(&w, UNIT_DAY);
            continue;
        }
        if (!matches(&f[BP_CRON_MONTH], lt.month)) {
            shift(&w, UNIT_MONTH);
            continue;
        }
        if (!matches(&f[BP_CRON_HOUR], lt.hour)) {
            if (w.dst_start != lt.hour) {
                w.dst_start = NO_HOUR;
                shift(&w, UNIT_HOUR);
                continue;
            }
            if (!matches(&f[BP_CRON_HOUR], lt.hour - 1)) {
                w.ts = add_time(tz, w.ts, UNIT_HOUR);
                continue;
            }
        } else if (w.dst_end == lt.hour) {
            w.dst_end = NO_HOUR;
            shift(&w, UNIT_HOUR);
            continue;
        }
        if (!matches(&f[BP_CRON_MINUTE], lt.minute)) {
            shift(&w, UNIT_MINUTE);
            continue;
        }
        if (!matches(&f[BP_CRON_SECOND], lt.second)) {
            shift(&w, UNIT_SECOND);
            continue;
        }
        if (w.ts == from_ms) { /* the start itself never counts */
            shift(&w, UNIT_SECOND);
            continue;
        }
        break;
    }
    if (steps >= BP_CRON_LOOP_LIMIT) {
        bp_err_set(err, BP_ERR_NONE, 0, "Invalid expression, loop limit exceeded");
        return 0;
    }
    *next_ms = w.ts;
    return 1;
}
