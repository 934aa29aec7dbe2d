/* bp_jsnum.c -- JavaScript number <-> text conversions (ECMA-262 ToNumber applied to a
 * string, and Number::toString(10)), written from the specification.
 *
 * Shortest round-trip digits come from trying %.{1..17}e until strtod gives the value back,
 * which is what ECMA-262 asks for (the fewest digits that identify the double). */
#include "bp_jsnum.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t bp_js_space_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;

    if (len == 0)
        return 0;
    if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r'))
        return 1;
    if (len >= 2 && u[0] == 0xc2 && u[1] == 0xa0)
        return 2; /* U+00A0 */
    if (len < 3)
        return 0;
    if (u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80)
        return 3; /* U+1680 */
    if (u[0] == 0xe2 && u[1] == 0x80 &&
        ((u[2] >= 0x80 && u[2] <= 0x8a) || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf))
        return 3; /* U+2000-200A, U+2028, U+2029, U+202F */
    if (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f)
        return 3; /* U+205F */
    if (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80)
        return 3; /* U+3000 */
    if (u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf)
        return 3; /* U+FEFF */
    return 0;
}

static double radix_integer(const char *s, size_t n, int radix)
{
    double v = 0;

    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        int d;

        if (s[i] >= '0' && s[i] <= '9')
            d = s[i] - '0';
        else if (s[i] >= 'a' && s[i] <= 'f')
            d = s[i] - 'a' + 10;
        else if (s[i] >= 'A' && s[i] <= 'F')
            d = s[i] - 'A' + 10;
        else
            return NAN;
        if (d >= radix)
            return NAN;
        v = v * radix + d;
    }
    return v;
}

double bp_js_to_number(const char *s, size_t len)
{
    size_t a = 0, b = len, k, i;
    char buf[512];
    bool digits = false;

    while (a < b && (k = bp_js_space_len(s + a, b - a)) > 0)
        a += k;
    /* trailing white space: step back over whole characters */
    for (;;) {
        size_t back = 0;

        for (size_t w = 1; w <= 3 && w <= b - a; w++)
            if (bp_js_space_len(s + b - w, w) == w) {
                back = w;
                break;
            }
        if (back == 0)
            break;
        b -= back;
    }
    s += a;
    len = b - a;
    if (len == 0)
        return 0;
    if (len > 2 && s[0] == '0') {
        if (s[1] == 'x' || s[1] == 'X')
            return radix_integer(s + 2, len - 2, 16);
        if (s[1] == 'o' || s[1] == 'O')
            return radix_integer(s + 2, len - 2, 8);
        if (s[1] == 'b' || s[1] == 'B')
            return radix_integer(s + 2, len - 2, 2);
    }
    i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    if (len - i == 8 && memcmp(s + i, "Infinity", 8) == 0)
        return s[0] == '-' ? -INFINITY : INFINITY;
    /* StrDecimalLiteral: digits [. digits] | . digits, then [eE][+-]digits */
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, digits = true;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, digits = true;
    }
    if (!digits)
        return NAN;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = ++i;

        if (i < len && (s[i] == '+' || s[i] == '-'))
            e = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e)
            return NAN;
    }
    if (i != len)
        return NAN;
    if (len >= sizeof(buf)) { /* very long digit runs: strtod on a heap copy */
        char *h = malloc(len + 1);
        double v;

        if (h == NULL)
            return NAN;
        memcpy(h, s, len);
        h[len] = '\0';
        v = strtod(h, NULL);
        free(h);
        return v;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return strtod(buf, NULL);
}

void bp_js_number_text(double v, char *buf, size_t cap)
{
    char tmp[40], digits[20];
    int prec, exp10, nd = 0;
    const char *e;

    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, "%sInfinity", v < 0 ? "-" : "");
        return;
    }
    if (v == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    if (fabs(v) < 1e21 && v == floor(v)) {
        snprintf(buf, cap, "%.0f", v);
        return;
    }
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is [-]d[.ddd]e[+-]xx: collect the digits and the exponent */
    for (const char *p = tmp; *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    e = strchr(tmp, 'e');
    exp10 = atoi(e + 1) + 1; /* ECMA-262's n: value = 0.digits * 10^n */
    {
        char out[64];
        size_t o = 0;

        if (v < 0)
            out[o++] = '-';
        if (nd <= exp10 && exp10 <= 21) {
            memcpy(out + o, digits, (size_t)nd), o += (size_t)nd;
            for (int i = nd; i < exp10; i++)
                out[o++] = '0';
        } else if (0 < exp10 && exp10 <= 21) {
            memcpy(out + o, digits, (size_t)exp10), o += (size_t)exp10;
            out[o++] = '.';
            memcpy(out + o, digits + exp10, (size_t)(nd - exp10)), o += (size_t)(nd - exp10);
        } else if (-6 < exp10 && exp10 <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -exp10; i++)
                out[o++] = '0';
            memcpy(out + o, digits, (size_t)nd), o += (size_t)nd;
        } else {
            out[o++] = digits[0];
            if (nd > 1) {
                out[o++] = '.';
                memcpy(out + o, digits + 1, (size_t)(nd - 1)), o += (size_t)(nd - 1);
            }
            o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%d", exp10 - 1 < 0 ? '-' : '+',
                                  abs(exp10 - 1));
        }
        out[o] = '\0';
        snprintf(buf, cap, "%s", out);
    }
}
