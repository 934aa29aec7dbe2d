/* bp_cron.h -- cron expressions as cron-parser 4.9.0 (bull 4.16.5's dependency) reads and
 * evaluates them: the grammar, the error messages, and the next matching instant in a time
 * zone, step for step, including its behaviour in DST gaps and overlaps.
 *
 * A bp_cron is the parsed expression (immutable; free with bp_cron_free()). Evaluation takes
 * the zone separately (bp_tzif.h), so one parse can be evaluated in any zone. */
#ifndef BP_CRON_H
#define BP_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "bp_err.h"
#include "bp_tzif.h"

typedef struct bp_cron bp_cron; /* opaque: defined in bp_cron_int.h */

#define BP_CRON_EXPR_MAX 65536 /* longer expressions are refused (cron-parser has no limit) */

/* Parse expr like cron-parser's parseExpression(): 5 fields, or 6 with seconds first (fewer
 * fields fill from the right, as cron-parser does), lists, ranges, steps, month and weekday
 * names, `L`, `#`, `?`, the @yearly/@monthly/@weekly/@daily/@hourly names. Returns 0 with
 * *out set, or -1 with err->msg holding cron-parser's own message for the same text (for
 * example "Invalid characters, got value: 15W"). */
int bp_cron_parse(bp_cron **out, const char *expr, bp_err *err);

void bp_cron_free(bp_cron *cron); /* NULL is a no-op */

/* The first instant after from_ms (ms since the epoch) that cron matches in zone tz, like
 * cron-parser's next() with currentDate = from_ms. has_end limits the search to end_ms
 * (cron-parser's endDate). Returns 1 with *next_ms set, or 0 when cron-parser's next() would
 * throw, with its message in err->msg ("Out of the timespan range", "Invalid expression, loop
 * limit exceeded", "Invalid last weekday of the month expression: L"). */
int bp_cron_next(const bp_cron *cron, const bp_tz *tz, int64_t from_ms, bool has_end,
                 int64_t end_ms, int64_t *next_ms, bp_err *err);

/* What Bull hands cron-parser: its repeat object as options, plus currentDate. */
typedef struct bp_cron_opts {
    const json_t *tz;         /* repeat.tz (borrowed), NULL when absent: the local zone */
    bool utc;                 /* repeat.utc is truthy: the zone is UTC */
    int64_t current_ms;       /* currentDate */
    const json_t *start_date; /* repeat.startDate (borrowed), NULL when absent */
    const json_t *end_date;   /* repeat.endDate (borrowed), NULL when absent */
} bp_cron_opts;

/* cron-parser's parseExpression(expr, options).next().getTime(), as Bull's getNextMillis
 * calls it. The zone is luxon's reading of tz: an IANA name (from the zoneinfo files),
 * "UTC"/"GMT", "UTC+3"/"utc-05:30", "local"/"system"/"default", or a number of minutes.
 * Returns 1 with *next_ms set; 0 when next() throws (err->msg: its message), which Bull
 * treats as "no next occurrence"; -1 when parseExpression() throws (err->msg: cron-parser's
 * message, e.g. for a zone it does not know 'CronDate: unhandled timestamp: "2026-01-01T00:
 * 00:00.000Z"'), which Bull's producer reports from add(). */
int bp_cron_eval(const char *expr, const bp_cron_opts *o, int64_t *next_ms, bp_err *err);

/* An ISO 8601 date or date-time ("2026-03-29", "2026-03-29T02:30", "...:00.000Z",
 * "...+01:00"; a space may stand for the T) in ms since the epoch. A form without an offset
 * is local time in zone, except that js_date makes date-only forms UTC, as JavaScript's Date
 * does. Returns 0, or -1 when s is not such a date. */
int bp_cron_iso_ms(const char *s, const bp_tz *zone, bool js_date, int64_t *out);

/* JSON.stringify(new Date(ms)) without the quotes: "2026-01-01T00:00:00.000Z". */
void bp_cron_iso_text(int64_t ms, char *buf, size_t cap);

#endif /* BP_CRON_H */
