/* bp_cron_parse.c -- the cron grammar of cron-parser 4.9.0, with its error messages.
 *
 * A job whose repeat.cron cron-parser rejects must fail with the reason Bull's producer
 * would have given at add(), so this parser follows cron-parser's steps, not a textbook
 * grammar: month and weekday names are replaced first (any run of three letters must be a
 * name), then the characters are checked, `*` and `?` become "min-max", the field is split
 * at ',' then '/' then '-', numbers are read with JavaScript's Number() (so "" is 0), and
 * the resulting list keeps duplicates (their count matters to the evaluator). Quirks kept on
 * purpose: "5/15" means 5-59/15, a range ending in 7 also holds Sunday as 0, "1-2-3" is 1-2,
 * "5L" in the day of month means the last day, `W` is an invalid character. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cron_int.h"
#include "bp_jsnum.h"

static const struct {
    int min, max;       /* the field's range */
    const char *chars;  /* characters allowed besides digits */
    bool l_ok;          /* `L` is a constraint character here */
    const char *defval; /* used when the field is not given */
} field_spec[BP_CRON_NFIELDS] = {
    {0, 59, ",*/-", false, "0"},  {0, 59, ",*/-", false, "*"}, {0, 23, ",*/-", false, "*"},
    {1, 31, "?,*L/-", true, "*"}, {1, 12, ",*/-", false, "*"}, {0, 7, "?,*L#/-", true, "*"},
};

/* cron-parser's days per month, February 29 */
static const int max_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static const char *const predefined[][2] = {
    {"@yearly", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@hourly", "0 * * * *"},
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* A growable string. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);

        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char *js_text(double v, char *buf, size_t cap)
{
    bp_js_number_text(v, buf, cap);
    return buf;
}

static void nomem(bp_err *err)
{
    bp_err_set(err, BP_ERR_IO, 12, "out of memory parsing a cron expression");
}

static void field_clear(bp_cron_field *f)
{
    for (size_t i = 0; i < f->nstrs; i++)
        free(f->strs[i]);
    free(f->strs);
    memset(f, 0, sizeof(*f));
}

static int push_num(bp_cron_field *f, double v)
{
    f->cnt[(int)v]++; /* callers checked v against the field's range */
    f->len++;
    return 0;
}

static int push_str(bp_cron_field *f, const char *s, size_t n)
{
    char **strs = realloc(f->strs, (f->nstrs + 1) * sizeof(*strs));
    char *copy = strndup(s, n);

    if (strs != NULL)
        f->strs = strs;
    if (strs == NULL || copy == NULL) {
        free(copy);
        return -1;
    }
    f->strs[f->nstrs++] = copy;
    f->len++;
    return 0;
}

/* What parseRange gives back: a list (already pushed into the field), a number, or text. */
enum range_kind { RANGE_LIST, RANGE_NUMBER, RANGE_TEXT };

/* parseRange(val, repeatInterval): val is [s, s+n), step is the text after '/', or NULL for
 * 1. A range is pushed straight into f (its values were checked against the field). */
static int parse_range(int fi, bp_cron_field *f, const char *s, size_t n, const char *step,
                       size_t step_n, enum range_kind *kind, double *num, bp_err *err)
{
    const char *dash = memchr(s, '-', n), *dash2;
    char a[40], b[40];
    double lo, hi, rep, every;
    bool zero_pushed = false;

    if (dash == NULL) {
        *num = bp_js_to_number(s, n);
        *kind = isnan(*num) ? RANGE_TEXT : RANGE_NUMBER;
        return 0;
    }
    dash2 = memchr(dash + 1, '-', n - (size_t)(dash + 1 - s));
    if (dash == s) {
        size_t n1 = (size_t)((dash2 != NULL ? dash2 : s + n) - (dash + 1));

        if (n1 == 0) {
            bp_err_set(err, BP_ERR_NONE, 0, "Invalid range: %.*s", (int)n, s);
            return -1;
        }
        *num = bp_js_to_number(s, n);
        *kind = RANGE_NUMBER;
        return 0;
    }
    lo = bp_js_to_number(s, (size_t)(dash - s));
    hi = bp_js_to_number(dash + 1, (size_t)((dash2 != NULL ? dash2 : s + n) - (dash + 1)));
    if (isnan(lo) || isnan(hi) || lo < field_spec[fi].min || hi > field_spec[fi].max) {
        bp_err_set(err, BP_ERR_NONE, 0, "Constraint error, got range %s-%s expected range %d-%d",
                   js_text(lo, a, sizeof(a)), js_text(hi, b, sizeof(b)), field_spec[fi].min,
                   field_spec[fi].max);
        return -1;
    }
    if (lo > hi) {
        bp_err_set(err, BP_ERR_NONE, 0, "Invalid range: %.*s", (int)n, s);
        return -1;
    }
    every = step != NULL ? bp_js_to_number(step, step_n) : 1;
    rep = every;
    if (isnan(rep) || rep <= 0) {
        bp_err_set(err, BP_ERR_NONE, 0, "Constraint error, cannot repeat at every %s time.",
                   js_text(rep, a, sizeof(a)));
        return -1;
    }
    if (fi == BP_CRON_DOW && fmod(hi, 7) == 0) {
        push_num(f, 0); /* a range ending in 7 also holds Sunday as 0 */
        zero_pushed = true;
    }
    for (double i = lo; i <= hi; i++) {
        bool exists = zero_pushed && i == 0;

        if (!exists && rep > 0 && fmod(rep, every) == 0) {
            rep = 1;
            push_num(f, i);
        } else {
            rep++;
        }
    }
    *kind = RANGE_LIST;
    return 0;
}

/* parseRepeat + handleResult for one list atom [s, s+n). */
static int parse_atom(int fi, bp_cron_field *f, const char *s, size_t n, bp_err *err)
{
    const char *slash = memchr(s, '/', n);
    enum range_kind kind;
    double num;
    char txt[40];
    sbuf wide = {0};
    int rc;

    if (slash != NULL) {
        size_t n0 = (size_t)(slash - s), n1 = n - n0 - 1;

        if (memchr(slash + 1, '/', n1) != NULL) {
            bp_err_set(err, BP_ERR_NONE, 0, "Invalid repeat: %.*s", (int)n, s);
            return -1;
        }
        if (!isnan(bp_js_to_number(s, n0))) { /* "5/15" is 5-max/15 */
            snprintf(txt, sizeof(txt), "-%d", field_spec[fi].max);
            if (sb_add(&wide, s, n0) != 0 || sb_add(&wide, txt, strlen(txt)) != 0) {
                free(wide.p);
                nomem(err);
                return -1;
            }
            rc = parse_range(fi, f, wide.p, wide.len, slash + 1, n1, &kind, &num, err);
            free(wide.p);
        } else {
            rc = parse_range(fi, f, s, n0, slash + 1, n1, &kind, &num, err);
        }
    } else {
        rc = parse_range(fi, f, s, n, NULL, 0, &kind, &num, err);
    }
    if (rc != 0 || kind == RANGE_LIST)
        return rc;
    if (kind == RANGE_TEXT && field_spec[fi].l_ok) {
        /* the text of the atom that parseRange returned: before any '/' */
        size_t tn = slash != NULL ? (size_t)(slash - s) : n;

        if (memchr(s, 'L', tn) != NULL) {
            if (push_str(f, s, tn) != 0) {
                nomem(err);
                return -1;
            }
            return 0;
        }
        bp_err_set(err, BP_ERR_NONE, 0, "Constraint error, got value %.*s expected range %d-%d",
                   (int)tn, s, field_spec[fi].min, field_spec[fi].max);
        return -1;
    }
    if (kind == RANGE_TEXT || isnan(num) || num < field_spec[fi].min || num > field_spec[fi].max) {
        size_t tn = slash != NULL ? (size_t)(slash - s) : n;

        if (kind == RANGE_TEXT)
            bp_err_set(err, BP_ERR_NONE, 0, "Constraint error, got value %.*s expected range %d-%d",
                       (int)tn, s, field_spec[fi].min, field_spec[fi].max);
        else
            bp_err_set(err, BP_ERR_NONE, 0, "Constraint error, got value %s expected range %d-%d",
                       js_text(num, txt, sizeof(txt)), field_spec[fi].min, field_spec[fi].max);
        return -1;
    }
    if (fi == BP_CRON_DOW)
        num = fmod(num, 7);
    return push_num(f, num == 0 ? 0 : num);
}

/* Replace every run of three letters by its month or weekday number. */
static int replace_names(int fi, const char *v, sbuf *out, bp_err *err)
{
    size_t n = strlen(v);

    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && is_alpha(v[i]) && is_alpha(v[i + 1]) && is_alpha(v[i + 2])) {
            char low[4] = {(char)(v[i] | 0x20), (char)(v[i + 1] | 0x20), (char)(v[i + 2] | 0x20),
                           '\0'};
            const char *const *names = fi == BP_CRON_MONTH ? month_names : day_names;
            int count = fi == BP_CRON_MONTH ? 12 : 7, k;
            char num[12];

            for (k = 0; k < count && strcmp(names[k], low) != 0; k++)
                ;
            if (k == count) {
                bp_err_set(err, BP_ERR_NONE, 0, "Validation error, cannot resolve alias \"%s\"",
                           low);
                return -1;
            }
            snprintf(num, sizeof(num), "%d", fi == BP_CRON_MONTH ? k + 1 : k);
            if (sb_add(out, num, strlen(num)) != 0)
                goto out_nomem;
            i += 3;
        } else {
            if (sb_add(out, v + i, 1) != 0)
                goto out_nomem;
            i++;
        }
    }
    if (out->p == NULL && sb_add(out, "", 0) != 0)
        goto out_nomem;
    return 0;

out_nomem:
    nomem(err);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    /* the strings hold only digits and 'L': ICU's root collation orders them as strcmp */
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* _parseField: one field's text into f. */
static int parse_field(int fi, const char *value, bp_cron_field *f, bp_err *err)
{
    sbuf named = {0}, full = {0};
    const char *v = value, *p;
    char range[16];
    int rc = -1;

    if (fi == BP_CRON_MONTH || fi == BP_CRON_DOW) {
        if (replace_names(fi, value, &named, err) != 0)
            goto out_free;
        v = named.p;
    }
    for (p = v; *p != '\0'; p++)
        if (!(*p >= '0' && *p <= '9') && strchr(field_spec[fi].chars, *p) == NULL)
            break;
    if (v[0] == '\0' || *p != '\0') {
        bp_err_set(err, BP_ERR_NONE, 0, "Invalid characters, got value: %s", v);
        goto out_free;
    }
    snprintf(range, sizeof(range), "%d-%d", field_spec[fi].min, field_spec[fi].max);
    {
        char wild = strchr(v, '*') != NULL ? '*' : strchr(v, '?') != NULL ? '?' : 0;

        for (p = v; *p != '\0'; p++)
            if ((wild != 0 && *p == wild ? sb_add(&full, range, strlen(range))
                                         : sb_add(&full, p, 1)) != 0) {
                nomem(err);
                goto out_free;
            }
    }
    /* parseSequence: the list; an empty element anywhere is reported before any element */
    if (full.p[0] == ',' || full.p[full.len - 1] == ',' || strstr(full.p, ",,") != NULL) {
        bp_err_set(err, BP_ERR_NONE, 0, "Invalid list value format");
        goto out_free;
    }
    for (const char *s = full.p;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);

        if (parse_atom(fi, f, s, n, err) != 0)
            goto out_free;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    if (f->nstrs > 1)
        qsort(f->strs, f->nstrs, sizeof(*f->strs), cmp_str);
    rc = 0;

out_free:
    free(named.p);
    free(full.p);
    return rc;
}

/* parseNthDay: "d#n" sets cron->nth; returns the weekday part in out (malloc). */
static int parse_nth(const char *val, bp_cron *cron, char **out, bp_err *err)
{
    const char *hash = strchr(val, '#'), *last;
    double nth;

    if (hash == NULL) {
        *out = strdup(val);
        goto out_check;
    }
    last = strrchr(val, '#') + 1;
    nth = bp_js_to_number(last, strlen(last));
    if (strchr(val, ',') != NULL) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "Constraint error, invalid dayOfWeek `#` and `,` special characters are "
                   "incompatible");
        return -1;
    }
    if (strchr(val, '/') != NULL) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "Constraint error, invalid dayOfWeek `#` and `/` special characters are "
                   "incompatible");
        return -1;
    }
    if (strchr(val, '-') != NULL) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "Constraint error, invalid dayOfWeek `#` and `-` special characters are "
                   "incompatible");
        return -1;
    }
    if (strchr(hash + 1, '#') != NULL || isnan(nth) || nth < 1 || nth > 5) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "Constraint error, invalid dayOfWeek occurrence number (#)");
        return -1;
    }
    cron->nth = nth;
    *out = strndup(val, (size_t)(hash - val));
out_check:
    if (*out == NULL) {
        nomem(err);
        return -1;
    }
    return 0;
}

/* _handleMaxDaysInMonth: with exactly one month, days past its end are an error when they
 * come first, and are dropped otherwise (with the "5L" kind of strings; "L" stays). */
static int max_days_in_month(bp_cron *cron, bp_err *err)
{
    bp_cron_field *dom = &cron->f[BP_CRON_DOM], *mon = &cron->f[BP_CRON_MONTH];
    int month = 0, dim, first = -1;
    size_t keep = 0;

    if (mon->len != 1)
        return 0;
    for (int v = 1; v <= 12; v++)
        if (mon->cnt[v] > 0)
            month = v;
    dim = max_days[month - 1];
    for (int v = 1; v <= 31 && first < 0; v++)
        if (dom->cnt[v] > 0)
            first = v;
    if (first > dim) {
        bp_err_set(err, BP_ERR_NONE, 0, "Invalid explicit day of month definition");
        return -1;
    }
    for (int v = dim + 1; v <= 31; v++) {
        dom->len -= dom->cnt[v];
        dom->cnt[v] = 0;
    }
    for (size_t i = 0; i < dom->nstrs; i++) {
        if (strcmp(dom->strs[i], "L") == 0) {
            dom->strs[keep++] = dom->strs[i];
        } else {
            free(dom->strs[i]);
            dom->len--;
        }
    }
    dom->nstrs = keep;
    return 0;
}

int bp_cron_parse(bp_cron **out, const char *expr, bp_err *err)
{
    const char *atoms[7];
    size_t alen[7], natoms = 0, n = strlen(expr), i = 0, k;
    bp_cron *cron;
    char *tmp = NULL;

    if (n > BP_CRON_EXPR_MAX) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "cron expression of %zu bytes is longer than bullpen accepts (%d)", n,
                   BP_CRON_EXPR_MAX);
        return -1;
    }
    for (size_t p = 0; p < sizeof(predefined) / sizeof(predefined[0]); p++)
        if (strcmp(expr, predefined[p][0]) == 0) {
            expr = predefined[p][1];
            n = strlen(expr);
        }
    /* trim, then split at runs of JS white space */
    while (i < n) {
        while (i < n && (k = bp_js_space_len(expr + i, n - i)) > 0)
            i += k;
        if (i >= n)
            break;
        if (natoms == 7)
            break;
        atoms[natoms] = expr + i;
        while (i < n && bp_js_space_len(expr + i, n - i) == 0)
            i++;
        alen[natoms] = (size_t)(expr + i - atoms[natoms]);
        natoms++;
    }
    if (natoms > 6) {
        bp_err_set(err, BP_ERR_NONE, 0, "Invalid cron expression");
        return -1;
    }
    cron = calloc(1, sizeof(*cron));
    if (cron == NULL) {
        nomem(err);
        return -1;
    }
    for (int fi = 0; fi < BP_CRON_NFIELDS; fi++) {
        int ai = fi - (BP_CRON_NFIELDS - (int)natoms);
        char *val;
        int rc;

        if (ai < 0) {
            val = strdup(field_spec[fi].defval);
        } else {
            val = strndup(atoms[ai], alen[ai]);
            if (val != NULL && fi == BP_CRON_DOW) {
                rc = parse_nth(val, cron, &tmp, err);
                free(val);
                if (rc != 0)
                    goto out_free;
                val = tmp;
            }
        }
        if (val == NULL) {
            nomem(err);
            goto out_free;
        }
        rc = parse_field(fi, val, &cron->f[fi], err);
        free(val);
        if (rc != 0)
            goto out_free;
    }
    if (max_days_in_month(cron, err) != 0)
        goto out_free;
    *out = cron;
    return 0;

out_free:
    bp_cron_free(cron);
    return -1;
}

void bp_cron_free(bp_cron *cron)
{
    if (cron == NULL)
        return;
    for (int fi = 0; fi < BP_CRON_NFIELDS; fi++)
        field_clear(&cron->f[fi]);
    free(cron);
}
