/* bp_docdata.c -- a strict single-purpose scanner for the document job's data (see
 * bp_docdata.h). Strings are decoded in one pass: runs of plain bytes are copied with
 * memcpy, escapes one by one. Nesting of skipped values is bounded so hostile input cannot
 * recurse deeply. */
#include "bp_docdata.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_hex.h"

#define BP_DOCDATA_MAX_DEPTH 2100 /* nesting of skipped values: above jansson's 2048 */

typedef struct scan {
    const unsigned char *s; /* input */
    size_t n;               /* its length */
    size_t i;               /* read position */
    bool oom;               /* an allocation failed */
} scan;

static void skip_ws(scan *sc)
{
    while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' || sc->s[sc->i] == '\n' ||
                             sc->s[sc->i] == '\r'))
        sc->i++;
}

static bool read_u4(scan *sc, uint32_t *out)
{
    uint32_t v = 0;

    if (sc->n - sc->i < 4)
        return false;
    for (int k = 0; k < 4; k++) {
        int h = bp_hex_digit(sc->s[sc->i + (size_t)k]);
        if (h < 0)
            return false;
        v = v * 16 + (uint32_t)h;
    }
    sc->i += 4;
    *out = v;
    return true;
}

static size_t put_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Whether any of the 8 bytes at p is '"', '\\' or a control character (below 0x20), with
 * the SWAR tests "has a zero byte" (on x ^ '"' and x ^ '\\') and "has a byte less than n":
 * exact for "any", which is all the caller asks. */
static bool special8(const unsigned char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t x, q, b, c;

    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    c = (q - ones) & ~q;         /* a zero byte in q: a quote */
    c |= (b - ones) & ~b;        /* a zero byte in b: a backslash */
    c |= (x - ones * 0x20) & ~x; /* a byte below 0x20 (high bit clear) */
    return (c & highs) != 0;
}

/* A string at sc->i (the opening quote). With out != NULL, decode it into a malloc'd
 * buffer; otherwise only skip it. Returns false when it is malformed. */
static bool read_string(scan *sc, char **out, size_t *out_len)
{
    size_t start = ++sc->i, len = 0, j = start;
    char *o = NULL;

    bool escaped = false;

    /* the decoded text is never longer than the raw one: find the end first */
    while (j < sc->n) {
        if (sc->n - j >= 8 && !special8(sc->s + j)) {
            j += 8;
            continue;
        }
        if (sc->s[j] == '"')
            break;
        if (sc->s[j] < 0x20)
            return false;
        if (sc->s[j] == '\\')
            escaped = true;
        j += sc->s[j] == '\\' ? 2 : 1;
    }
    if (j >= sc->n)
        return false;
    if (!escaped) { /* the common case: one copy */
        if (out != NULL) {
            o = malloc(j - start + 1);
            if (o == NULL) {
                sc->oom = true;
                return false;
            }
            memcpy(o, sc->s + start, j - start);
            o[j - start] = '\0';
            *out = o;
            *out_len = j - start;
        }
        sc->i = j + 1;
        return true;
    }
    if (out != NULL) {
        o = malloc(j - start + 1);
        if (o == NULL) {
            sc->oom = true;
            return false;
        }
    }
    while (sc->i < j) {
        size_t run = sc->i;
        while (run < j && sc->s[run] != '\\')
            run++;
        if (o != NULL)
            memcpy(o + len, sc->s + sc->i, run - sc->i);
        len += run - sc->i;
        sc->i = run;
        if (sc->i >= j)
            break;
        unsigned char e = sc->s[sc->i + 1];
        char c;
        sc->i += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            c = (char)e;
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            char u[4];
            if (!read_u4(sc, &cp))
                goto out_bad;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                goto out_bad; /* a lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (sc->n - sc->i < 6 || sc->s[sc->i] != '\\' || sc->s[sc->i + 1] != 'u')
                    goto out_bad;
                sc->i += 2;
                if (!read_u4(sc, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    goto out_bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            size_t ul = put_utf8(cp, u);
            if (sc->i > j + 1) /* an escape ran past the end we found: malformed */
                goto out_bad;
            if (o != NULL)
                memcpy(o + len, u, ul);
            len += ul;
            continue;
        }
        default:
            goto out_bad;
        }
        if (o != NULL)
            o[len] = c;
        len++;
    }
    if (sc->i != j)
        goto out_bad;
    sc->i = j + 1;
    if (o != NULL) {
        o[len] = '\0';
        *out = o;
        *out_len = len;
    }
    return true;

out_bad:
    free(o);
    return false;
}

/* Skip one value of any type. */
static bool skip_value(scan *sc, int depth)
{
    unsigned char c;

    if (depth > BP_DOCDATA_MAX_DEPTH)
        return false;
    skip_ws(sc);
    if (sc->i >= sc->n)
        return false;
    c = sc->s[sc->i];
    if (c == '"')
        return read_string(sc, NULL, NULL);
    if (c == '{' || c == '[') {
        unsigned char close = c == '{' ? '}' : ']';
        sc->i++;
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == close) {
            sc->i++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                skip_ws(sc);
                if (sc->i >= sc->n || sc->s[sc->i] != '"' || !read_string(sc, NULL, NULL))
                    return false;
                skip_ws(sc);
                if (sc->i >= sc->n || sc->s[sc->i] != ':')
                    return false;
                sc->i++;
            }
            if (!skip_value(sc, depth + 1))
                return false;
            skip_ws(sc);
            if (sc->i >= sc->n)
                return false;
            if (sc->s[sc->i] == close) {
                sc->i++;
                return true;
            }
            if (sc->s[sc->i] != ',')
                return false;
            sc->i++;
        }
    }
    /* number, true, false, null: a run of their characters (jansson checks them exactly
     * when the fallback is needed; a wrong literal here only makes a field OTHER) */
    size_t start = sc->i;
    while (sc->i < sc->n && strchr("0123456789+-.eEtruefalsn", sc->s[sc->i]) != NULL &&
           sc->s[sc->i] != '\0')
        sc->i++;
    return sc->i > start;
}

int bp_docdata_scan(const char *s, size_t n, bp_docdata *out)
{
    scan sc = {.s = (const unsigned char *)s, .n = n};
    bp_docdata d;

    memset(&d, 0, sizeof(d));
    skip_ws(&sc);
    if (sc.i >= n || sc.s[sc.i] != '{')
        return 0;
    sc.i++;
    skip_ws(&sc);
    if (sc.i < n && sc.s[sc.i] == '}') {
        sc.i++;
        goto out_end;
    }
    for (;;) {
        char *key = NULL;
        size_t klen = 0;
        bp_docdata_field *f = NULL;

        skip_ws(&sc);
        if (sc.i >= n || sc.s[sc.i] != '"' || !read_string(&sc, &key, &klen))
            goto out_bad;
        if (klen == 4 && memcmp(key, "path", 4) == 0)
            f = &d.path;
        else if (klen == 4 && memcmp(key, "text", 4) == 0)
            f = &d.text;
        else if (klen == 4 && memcmp(key, "type", 4) == 0)
            f = &d.type;
        free(key);
        skip_ws(&sc);
        if (sc.i >= n || sc.s[sc.i] != ':')
            goto out_bad;
        sc.i++;
        skip_ws(&sc);
        if (f != NULL) {
            free(f->value);
            f->value = NULL;
            f->len = 0;
            if (sc.i < n && sc.s[sc.i] == '"') {
                if (!read_string(&sc, &f->value, &f->len))
                    goto out_bad;
                f->kind = BP_DOCDATA_STRING;
            } else {
                if (!skip_value(&sc, 1))
                    goto out_bad;
                f->kind = BP_DOCDATA_OTHER;
            }
        } else if (!skip_value(&sc, 1)) {
            goto out_bad;
        }
        skip_ws(&sc);
        if (sc.i >= n)
            goto out_bad;
        if (sc.s[sc.i] == '}') {
            sc.i++;
            break;
        }
        if (sc.s[sc.i] != ',')
            goto out_bad;
        sc.i++;
    }
out_end:
    skip_ws(&sc);
    if (sc.i != n)
        goto out_bad; /* trailing garbage */
    *out = d;
    return 1;

out_bad:
    bp_docdata_free(&d);
    return sc.oom ? -1 : 0;
}

void bp_docdata_free(bp_docdata *d)
{
    free(d->path.value);
    free(d->text.value);
    free(d->type.value);
    memset(d, 0, sizeof(*d));
}
