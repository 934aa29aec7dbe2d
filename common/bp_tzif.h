/* bp_tzif.h -- time zones read from the system's zoneinfo (TZif files, RFC 8536), without
 * touching the process-global TZ: UTC offset of any instant in any IANA zone.
 *
 * A bp_tz owns its transition table and, for instants after the last transition, the POSIX
 * TZ rule from the file's footer. It is immutable once loaded; free it with bp_tz_free(). */
#ifndef BP_TZIF_H
#define BP_TZIF_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"

typedef struct bp_tz bp_tz; /* opaque: defined in bp_tzif.c */

/* Load zone name: an IANA name ("Europe/Berlin", "UTC", "US/Eastern") read from $TZDIR or
 * /usr/share/zoneinfo, or NULL for the process's local zone (the TZ environment variable as a
 * zone name or POSIX rule, else /etc/localtime, else UTC), the zone Node's Date uses. Returns
 * 0 with *out set (bp_tz_free()), or -1 with err naming the zone and why (no such file, not a
 * TZif file, a name that could leave the zoneinfo directory). */
int bp_tz_load(bp_tz **out, const char *name, bp_err *err);

/* Parse a TZif image (any version; v2+ uses its 64-bit block and footer). name is kept for
 * messages. Returns 0 with *out set, or -1 with err saying what is malformed. */
int bp_tz_parse(bp_tz **out, const char *name, const unsigned char *buf, size_t len, bp_err *err);

/* A zone from a POSIX TZ rule alone ("EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30"). Returns 0 with
 * *out set, or -1 with err saying which part is malformed. */
int bp_tz_from_posix(bp_tz **out, const char *rule, bp_err *err);

/* A fixed offset (seconds east of UTC) named name. Returns NULL when out of memory. */
bp_tz *bp_tz_fixed(const char *name, int32_t offset_s);

/* The offset from UTC (seconds east, local = utc + offset) in force at utc_s. */
int32_t bp_tz_offset(const bp_tz *tz, int64_t utc_s);

const char *bp_tz_name(const bp_tz *tz);

void bp_tz_free(bp_tz *tz); /* NULL is a no-op */

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12; day may overflow) and
 * back. Shared by the cron evaluator. */
int64_t bp_days_from_civil(int64_t y, int m, int d);
void bp_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif /* BP_TZIF_H */
