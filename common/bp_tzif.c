/* bp_tzif.c -- TZif zone files (RFC 8536) and POSIX TZ rules, read without setting TZ.
 *
 * Setting TZ and calling localtime_r() is process-global, so a worker that evaluates cron
 * expressions in several zones reads the zone files itself. A zone is a sorted table of
 * transitions (UTC seconds -> local time type) plus, for every instant after the last
 * transition, the POSIX rule in the footer of a v2+ file ("CET-1CEST,M3.5.0,M10.5.0/3").
 * Before the first transition the first time type applies (RFC 8536 section 3.2). Leap-second
 * ("right/") files are refused: Node's Intl has no such zones either.
 *
 * Everything is validated before use: counts against the file size, type indices against
 * the type count, transitions strictly ascending. A file is at most BP_TZIF_MAX bytes. */
#include "bp_tzif.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BP_TZIF_MAX         (1 << 20) /* the largest real zone file is under 4 KiB */
#define BP_TZ_NAME_MAX      128       /* IANA names are at most ~30 characters */
#define BP_TZ_DEFAULT_DIR   "/usr/share/zoneinfo"
#define BP_TZ_PATH_MAX      4096     /* PATH_MAX on Linux */
#define BP_TZ_RULE_HOUR_MAX 167      /* RFC 8536 section 3.3.1: rule times in -167..167 hours */
#define BP_TZ_OFF_MIN       (-89999) /* RFC 8536 section 3.2: offsets within -25:59:59 */
#define BP_TZ_OFF_MAX       93599    /* ... and +25:59:59 */

typedef struct bp_tz_rule_date {
    char kind;      /* 'J' (1-365, no Feb 29), 'D' (0-365 zero-based), 'M' (month.week.day) */
    int a;          /* J/D: the day; M: the month 1-12 */
    int week;       /* M: 1-5, 5 = last */
    int wday;       /* M: 0 = Sunday */
    int32_t time_s; /* local time of day of the change, may be negative or past 24 h */
} bp_tz_rule_date;

typedef struct bp_tz_rule {
    bool has;                   /* a rule was given */
    int32_t std_off;            /* seconds east in standard time */
    int32_t dst_off;            /* seconds east in daylight time */
    bool has_dst;               /* the rule names a daylight time */
    bp_tz_rule_date start, end; /* start of daylight time (in std), end (in dst) */
} bp_tz_rule;

struct bp_tz {
    char name[BP_TZ_NAME_MAX]; /* for messages */
    size_t count;              /* transitions */
    int64_t *at;               /* transition instants (UTC s), ascending */
    int32_t *off_at;           /* offset in force from at[i] on */
    int32_t first_off;         /* offset before at[0] (type 0), or always when count 0 */
    bp_tz_rule rule;           /* footer rule, for instants >= at[count-1] */
};

int64_t bp_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    /* month overflow first, like Date.UTC: month 13 is January of the next year */
    y += (m - 1) / 12;
    m = (m - 1) % 12 + 1;
    if (m <= 0) {
        m += 12;
        y -= 1;
    }
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 + (d - 1);
}

void bp_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ---- POSIX TZ rules ---- */

/* A zone abbreviation: <...> or three or more letters. */
static const char *skip_name(const char *p)
{
    const char *s = p;

    if (*p == '<') {
        while (*p != '\0' && *p != '>')
            p++;
        return *p == '>' && p - s > 1 ? p + 1 : NULL;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h; stores seconds (sign as written). */
static const char *parse_hms(const char *p, int max_h, int32_t *out)
{
    int sign = 1, part[3] = {0, 0, 0};

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        int v = 0, n = 0;

        if (i > 0) {
            if (*p != ':')
                break;
            p++;
        }
        while (*p >= '0' && *p <= '9' && n < 3) {
            v = v * 10 + (*p++ - '0');
            n++;
        }
        if (n == 0 || (i == 0 ? v > max_h : v > 59))
            return NULL;
        part[i] = v;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *out)
{
    int v = 0, n = 0;

    while (*p >= '0' && *p <= '9' && n < 4) {
        v = v * 10 + (*p++ - '0');
        n++;
    }
    if (n == 0 || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

static const char *parse_rule_date(const char *p, bp_tz_rule_date *d)
{
    d->time_s = 7200; /* 02:00 unless given */
    if (*p == 'J') {
        d->kind = 'J';
        p = parse_num(p + 1, 1, 365, &d->a);
    } else if (*p == 'M') {
        d->kind = 'M';
        p = parse_num(p + 1, 1, 12, &d->a);
        if (p == NULL || *p != '.' || (p = parse_num(p + 1, 1, 5, &d->week)) == NULL || *p != '.')
            return NULL;
        p = parse_num(p + 1, 0, 6, &d->wday);
    } else {
        d->kind = 'D';
        p = parse_num(p, 0, 365, &d->a);
    }
    if (p != NULL && *p == '/')
        p = parse_hms(p + 1, BP_TZ_RULE_HOUR_MAX, &d->time_s);
    return p;
}

/* Parse a POSIX TZ rule into r. Returns 0, or -1 (malformed). */
static int parse_rule(const char *s, bp_tz_rule *r)
{
    const char *p = skip_name(s);
    int32_t off;

    memset(r, 0, sizeof(*r));
    if (p == NULL || (p = parse_hms(p, 24, &off)) == NULL)
        return -1;
    r->std_off = -off; /* POSIX offsets are west-positive */
    r->dst_off = r->std_off + 3600;
    r->has = true;
    if (*p == '\0')
        return 0;
    if ((p = skip_name(p)) == NULL)
        return -1;
    r->has_dst = true;
    if (*p != ',' && *p != '\0') {
        if ((p = parse_hms(p, 24, &off)) == NULL)
            return -1;
        r->dst_off = -off;
    }
    if (*p == '\0') { /* no rule: the US rule, as glibc assumes */
        r->start = (bp_tz_rule_date){'M', 3, 2, 0, 7200};
        r->end = (bp_tz_rule_date){'M', 11, 1, 0, 7200};
        return 0;
    }
    if (*p != ',' || (p = parse_rule_date(p + 1, &r->start)) == NULL || *p != ',' ||
        (p = parse_rule_date(p + 1, &r->end)) == NULL || *p != '\0')
        return -1;
    return 0;
}

/* Local seconds since the epoch (as if UTC) of date d's day in year y, midnight. */
static int64_t rule_day(int64_t y, const bp_tz_rule_date *d)
{
    int64_t jan1 = bp_days_from_civil(y, 1, 1);

    if (d->kind == 'J')
        return (jan1 + d->a - 1 + (is_leap(y) && d->a >= 60)) * 86400;
    if (d->kind == 'D')
        return (jan1 + d->a) * 86400;
    {
        int64_t first = bp_days_from_civil(y, d->a, 1);
        int wd1 = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        int day = 1 + (d->wday - wd1 + 7) % 7 + (d->week - 1) * 7;

        while (day > days_in_month(y, d->a))
            day -= 7;
        return (first + day - 1) * 86400;
    }
}

static int32_t rule_offset(const bp_tz_rule *r, int64_t t)
{
    int64_t days = (t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0), y, best_at = 0;
    int32_t best = r->std_off;
    bool found = false;
    int m, d;

    if (!r->has_dst)
        return r->std_off;
    bp_civil_from_days(days, &y, &m, &d);
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t s = rule_day(yy, &r->start) + r->start.time_s - r->std_off;
        int64_t e = rule_day(yy, &r->end) + r->end.time_s - r->dst_off;

        if (s <= t && (!found || s >= best_at)) {
            best_at = s;
            best = r->dst_off;
            found = true;
        }
        if (e <= t && (!found || e >= best_at)) {
            best_at = e;
            best = r->std_off;
            found = true;
        }
    }
    return best;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bp_tz *tz_new(const char *name)
{
    bp_tz *tz = calloc(1, sizeof(*tz));

    if (tz != NULL)
        snprintf(tz->name, sizeof(tz->name), "%s", name != NULL ? name : "");
    return tz;
}

bp_tz *bp_tz_fixed(const char *name, int32_t offset_s)
{
    bp_tz *tz = tz_new(name);

    if (tz != NULL)
        tz->first_off = offset_s;
    return tz;
}

int bp_tz_parse(bp_tz **out, const char *name, const unsigned char *buf, size_t len, bp_err *err)
{
    uint32_t cnt[6], isut, isstd, leap, timecnt, typecnt, charcnt;
    size_t pos = 0, tsize = 4, need;
    const unsigned char *times, *idx, *types;
    bp_tz *tz;

    for (int pass = 0; pass < 2; pass++) {
        if (len - pos < 44 || memcmp(buf + pos, "TZif", 4) != 0) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "zone '%s': not a TZif file (bad header)", name);
            return -1;
        }
        for (int i = 0; i < 6; i++)
            cnt[i] = be32(buf + pos + 20 + 4 * i);
        isut = cnt[0], isstd = cnt[1], leap = cnt[2], timecnt = cnt[3], typecnt = cnt[4];
        charcnt = cnt[5];
        if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 65536 || leap > 100000 ||
            isut > 256 || isstd > 256) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "zone '%s': TZif counts out of range", name);
            return -1;
        }
        need =
            timecnt * tsize + timecnt + typecnt * 6 + charcnt + leap * (tsize + 4) + isstd + isut;
        if (len - pos - 44 < need) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "zone '%s': TZif file is truncated", name);
            return -1;
        }
        if (pass == 1 || buf[pos + 4] < '2')
            break;
        pos += 44 + need; /* v2+: skip the 32-bit block, use the 64-bit one */
        tsize = 8;
    }
    if (leap != 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "zone '%s': a leap-second (right/) zone; use the zone without leap seconds",
                   name);
        return -1;
    }
    times = buf + pos + 44;
    idx = times + timecnt * tsize;
    types = idx + timecnt;
    tz = tz_new(name);
    if (tz == NULL)
        goto out_nomem;
    if (timecnt > 0) {
        tz->at = malloc(timecnt * sizeof(*tz->at));
        tz->off_at = malloc(timecnt * sizeof(*tz->off_at));
        if (tz->at == NULL || tz->off_at == NULL)
            goto out_nomem;
    }
    for (uint32_t i = 0; i < typecnt; i++) {
        int32_t off = (int32_t)be32(types + 6 * i);

        if (off < BP_TZ_OFF_MIN || off > BP_TZ_OFF_MAX) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "zone '%s': TZif offset %d s is out of range", name,
                       (int)off);
            bp_tz_free(tz);
            return -1;
        }
    }
    tz->first_off = (int32_t)be32(types);
    for (uint32_t i = 0; i < timecnt; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);

        if (idx[i] >= typecnt || (i > 0 && t <= tz->at[i - 1])) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "zone '%s': TZif transition %u is out of order or has no type", name,
                       (unsigned)i);
            bp_tz_free(tz);
            return -1;
        }
        tz->at[i] = t;
        tz->off_at[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    tz->count = timecnt;
    if (tsize == 8) { /* footer: "\n<rule>\n" */
        const unsigned char *f = buf + pos + 44 + need, *nl;
        size_t left = len - pos - 44 - need;
        char rule[256];

        if (left >= 2 && f[0] == '\n' && (nl = memchr(f + 1, '\n', left - 1)) != NULL &&
            nl - f - 1 > 0 && (size_t)(nl - f - 1) < sizeof(rule)) {
            memcpy(rule, f + 1, (size_t)(nl - f - 1));
            rule[nl - f - 1] = '\0';
            if (memchr(rule, '\0', (size_t)(nl - f - 1)) != NULL || parse_rule(rule, &tz->rule)) {
                bp_err_set(err, BP_ERR_CONFIG, 0, "zone '%s': malformed TZif footer rule '%.60s'",
                           name, rule);
                bp_tz_free(tz);
                return -1;
            }
        }
    }
    *out = tz;
    return 0;

out_nomem:
    bp_tz_free(tz);
    bp_err_set(err, BP_ERR_IO, ENOMEM, "zone '%s': out of memory", name);
    return -1;
}

int bp_tz_from_posix(bp_tz **out, const char *rule, bp_err *err)
{
    bp_tz *tz;
    bp_tz_rule r;

    if (parse_rule(rule, &r) != 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "'%s' is not a POSIX TZ rule", rule);
        return -1;
    }
    tz = tz_new(rule);
    if (tz == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "zone '%s': out of memory", rule);
        return -1;
    }
    tz->rule = r;
    tz->first_off = r.std_off;
    *out = tz;
    return 0;
}

/* Read a whole file of at most BP_TZIF_MAX bytes. Returns the size, or -1 with errno set. */
static ssize_t read_file(const char *path, unsigned char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    unsigned char *buf;
    size_t len = 0;
    ssize_t n;

    if (fd < 0)
        return -1;
    buf = malloc(BP_TZIF_MAX);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    while (len < BP_TZIF_MAX && (n = read(fd, buf + len, BP_TZIF_MAX - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            n = errno;
            free(buf);
            close(fd);
            errno = (int)n;
            return -1;
        }
        len += (size_t)n;
    }
    close(fd);
    *out = buf;
    return (ssize_t)len;
}

static int load_path(bp_tz **out, const char *name, const char *path, bp_err *err)
{
    unsigned char *buf = NULL;
    ssize_t len = read_file(path, &buf);
    int rc;

    if (len < 0) {
        bp_err_set(err, BP_ERR_CONFIG, errno, "zone '%s': cannot read '%s': %s", name, path,
                   strerror(errno));
        return -1;
    }
    rc = bp_tz_parse(out, name, buf, (size_t)len, err);
    free(buf);
    return rc;
}

/* An IANA name stays inside the zoneinfo directory: letters, digits, "_+-./", no "..",
 * no leading '/' or '.'. */
static bool safe_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n >= BP_TZ_NAME_MAX || name[0] == '/' || name[0] == '.' ||
        strstr(name, "..") != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.' || c == '/'))
            return false;
    }
    return true;
}

/* Files in the zoneinfo directory that are no zone Node's Intl accepts. */
static bool not_a_zone(const char *name)
{
    return strcmp(name, "posixrules") == 0 || strcmp(name, "Factory") == 0 ||
           strcmp(name, "localtime") == 0 || strncmp(name, "posix/", 6) == 0 ||
           strncmp(name, "right/", 6) == 0;
}

/* The spelling of name in tzdata.zi's zone ("Z name ...") and link ("L target name") lines,
 * compared without case. Returns 0 with canon set, -1 when it is not there. */
static int canonical_name(const char *dir, const char *name, char *canon, size_t cap)
{
    char path[BP_TZ_PATH_MAX], line[512];
    int rc = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s/tzdata.zi", dir);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
        char *tok, *save = NULL, *cand = NULL;

        if (line[0] != 'Z' && line[0] != 'L')
            continue;
        tok = strtok_r(line, " \t\n", &save); /* Z or L */
        tok = strtok_r(NULL, " \t\n", &save); /* the zone, or the link's target */
        if (tok != NULL && line[0] == 'L')
            tok = strtok_r(NULL, " \t\n", &save); /* the link's name */
        cand = tok;
        if (cand != NULL && strcasecmp(cand, name) == 0 && strlen(cand) < cap) {
            snprintf(canon, cap, "%s", cand);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

int bp_tz_load(bp_tz **out, const char *name, bp_err *err)
{
    const char *dir = getenv("TZDIR");
    char path[BP_TZ_PATH_MAX];

    if (dir == NULL || dir[0] == '\0')
        dir = BP_TZ_DEFAULT_DIR;
    if (name == NULL) { /* the local zone, as Node finds it */
        const char *tzenv = getenv("TZ");

        if (tzenv != NULL && tzenv[0] != '\0') {
            if (tzenv[0] == ':')
                tzenv++;
            if (tzenv[0] == '/')
                return load_path(out, tzenv, tzenv, err);
            if (safe_name(tzenv)) {
                snprintf(path, sizeof(path), "%s/%s", dir, tzenv);
                if (access(path, R_OK) == 0)
                    return load_path(out, tzenv, path, err);
            }
            return bp_tz_from_posix(out, tzenv, err);
        }
        if (access("/etc/localtime", R_OK) == 0)
            return load_path(out, "localtime", "/etc/localtime", err);
        *out = bp_tz_fixed("UTC", 0);
        if (*out == NULL) {
            bp_err_set(err, BP_ERR_IO, ENOMEM, "zone 'UTC': out of memory");
            return -1;
        }
        return 0;
    }
    if (!safe_name(name) || not_a_zone(name)) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "zone '%.60s' is not an IANA zone name", name);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (access(path, R_OK) != 0 && errno == ENOENT) {
        char canon[BP_TZ_NAME_MAX];

        /* zone names are case-insensitive to Node's Intl: look the spelling up */
        if (canonical_name(dir, name, canon, sizeof(canon)) == 0 && !not_a_zone(canon)) {
            snprintf(path, sizeof(path), "%s/%s", dir, canon);
            return load_path(out, canon, path, err);
        }
    }
    return load_path(out, name, path, err);
}

int32_t bp_tz_offset(const bp_tz *tz, int64_t t)
{
    size_t lo = 0, hi;

    if (tz->count == 0)
        return tz->rule.has ? rule_offset(&tz->rule, t) : tz->first_off;
    if (t < tz->at[0])
        return tz->first_off;
    if (t >= tz->at[tz->count - 1] && tz->rule.has)
        return rule_offset(&tz->rule, t);
    hi = tz->count; /* at[lo] <= t < at[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off_at[lo];
}

const char *bp_tz_name(const bp_tz *tz)
{
    return tz->name;
}

void bp_tz_free(bp_tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->at);
    free(tz->off_at);
    free(tz);
}
