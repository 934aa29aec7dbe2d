/* bp_jsnum.h -- JavaScript's number conversions, where bullpen must produce the same text or
 * value as Node: Number(string) (ToNumber) and String(number) (Number::toString).
 *
 * Used by the cron parser (cron-parser coerces field text with `+value` and prints numbers in
 * its error messages) and by repeat keys (Bull builds them with string concatenation). */
#ifndef BP_JSNUM_H
#define BP_JSNUM_H

#include <stddef.h>

/* Number(s) for the len bytes at s: surrounding JS white space is ignored, "" is 0,
 * decimal literals with sign, fraction and exponent, "Infinity", 0x/0o/0b integers; anything
 * else is NaN. */
double bp_js_to_number(const char *s, size_t len);

/* String(v): integers below 1e21 in plain digits, "-0" as "0", NaN, Infinity, and otherwise
 * the shortest round-trip digits in JS's fixed or exponential layout. Always NUL-terminates
 * (cap >= 32 holds any number). */
void bp_js_number_text(double v, char *buf, size_t cap);

/* The byte length of the JS white-space or line-terminator character at s (ASCII or UTF-8:
 * U+00A0, U+1680, U+2000-200A, U+2028/9, U+202F, U+205F, U+3000, U+FEFF), 0 when there is
 * none. len is the bytes available. */
size_t bp_js_space_len(const char *s, size_t len);

#endif /* BP_JSNUM_H */
