/* fuzz_cron.c -- libFuzzer target for the cron evaluator and the zone reader: the text a
 * job's repeat.cron carries (bp_cron_parse, then bp_cron_next in UTC and in a DST zone) and
 * the zone data bullpen reads (bp_tz_parse on TZif bytes, bp_tz_from_posix on TZ rules).
 *
 * The first byte picks the mode, the rest is the input. Beyond "no crash, no leak, no UB":
 * a rejected expression always says why; a next time is strictly after the start and, in
 * UTC, is found again when asked from 1 ms before; a parsed zone's offsets stay within
 * +-26 hours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cron.h"
#include "bp_tzif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DAY_S 86400

/* Berlin from the system zoneinfo, read once (the fuzzer must not depend on it: a fixed
 * fallback rule keeps DST in play when the file is missing) */
static const bp_tz *dst_zone(void)
{
    static bp_tz *tz;
    bp_err err;

    if (tz == NULL && bp_tz_load(&tz, "Europe/Berlin", &err) != 0 &&
        bp_tz_from_posix(&tz, "CET-1CEST,M3.5.0,M10.5.0/3", &err) != 0)
        abort();
    return tz;
}

static void check_zone(const bp_tz *tz)
{
    static const int64_t at[] = {-5000000000LL, 0, 1774746000LL, 2200000000LL, 9000000000LL};

    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        int32_t off = bp_tz_offset(tz, at[i]);

        if (off < -26 * 3600 || off > 26 * 3600)
            abort();
    }
}

static void fuzz_expression(const char *text)
{
    static bp_tz *utc;
    const bp_tz *zones[2];
    bp_cron *cron = NULL;
    bp_err err = {.msg = ""};

    if (utc == NULL && (utc = bp_tz_fixed("UTC", 0)) == NULL)
        abort();
    zones[0] = utc;
    zones[1] = dst_zone();
    if (bp_cron_parse(&cron, text, &err) != 0) {
        if (err.msg[0] == '\0')
            abort();
        return;
    }
    for (int z = 0; z < 2; z++) {
        int64_t from = 1774745400000LL, next, again; /* 2026-03-29T00:50Z, before Berlin's gap */

        for (int i = 0; i < 3; i++) {
            err.msg[0] = '\0';
            if (bp_cron_next(cron, zones[z], from, false, 0, &next, &err) != 1) {
                if (err.msg[0] == '\0')
                    abort();
                break;
            }
            if (next <= from)
                abort();
            /* in UTC the walk has no DST state: asked again from 1 ms before, it lands on the
             * same instant (or throws, as cron-parser does for a weekday like "L" that is
             * evaluated only on days the numbers do not match) */
            if (z == 0 && bp_cron_next(cron, zones[z], next - 1, false, 0, &again, &err) == 1 &&
                again != next)
                abort();
            from = next;
        }
    }
    bp_cron_free(cron);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    bp_tz *tz = NULL;
    bp_err err;

    if (size < 1)
        return 0;
    text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        fuzz_expression(text);
        break;
    case 1:
        if (bp_tz_parse(&tz, "fuzz", data + 1, size - 1, &err) == 0) {
            check_zone(tz);
            bp_tz_free(tz);
        }
        break;
    default:
        if (bp_tz_from_posix(&tz, text, &err) == 0) {
            check_zone(tz);
            bp_tz_free(tz);
        }
        break;
    }
    free(text);
    return 0;
}
