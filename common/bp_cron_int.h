/* bp_cron_int.h -- the parsed form of a cron expression, shared by the parser
 * (bp_cron_parse.c) and the evaluator (bp_cron.c). Not for other modules.
 *
 * cron-parser keeps each field as a sorted JavaScript array and its evaluation looks at the
 * arrays' lengths (24 hours means "any hour", 8 weekdays means "any weekday"), duplicates
 * included. So a field here is the multiplicity of every value plus the `L` strings, and len
 * is that array's length. */
#ifndef BP_CRON_INT_H
#define BP_CRON_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bp_cron.h"

enum bp_cron_field_id {
    BP_CRON_SECOND,
    BP_CRON_MINUTE,
    BP_CRON_HOUR,
    BP_CRON_DOM,
    BP_CRON_MONTH,
    BP_CRON_DOW,
    BP_CRON_NFIELDS
};

#define BP_CRON_VALUES 60 /* values 0..59: the widest field */

typedef struct bp_cron_field {
    uint32_t cnt[BP_CRON_VALUES]; /* how often each value occurs in the JS array */
    size_t len;                   /* the JS array's length (numbers and strings) */
    char **strs;                  /* the strings holding `L` ("L", "5L"), in JS sort order */
    size_t nstrs;                 /* entries in strs */
} bp_cron_field;

struct bp_cron {
    bp_cron_field f[BP_CRON_NFIELDS]; /* second, minute, hour, day of month, month, weekday */
    double nth;                       /* the `#` occurrence (1-5), 0 = none */
};

/* luxon's zone.offset(ts) in ms (the offset at the second ts falls in). */
int64_t bp_cron_offset_ms(const bp_tz *tz, int64_t ts);

/* luxon's fixOffset: the instant whose local time in tz is local (ms, as if UTC), trying
 * offset guess_ms first; in a gap the wall time is kept with the later offset. */
int64_t bp_cron_fix_offset(const bp_tz *tz, int64_t local, int64_t guess_ms);

#endif /* BP_CRON_INT_H */
