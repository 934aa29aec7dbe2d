/* bp_hex.h -- the one hex digit decoder, for percent-encoded URLs, \u escapes in job data
 * and hex MACs in control messages. Header-only: one tiny inline function. */
#ifndef BP_HEX_H
#define BP_HEX_H

/* The value of the hex digit c (0-9, a-f, A-F), or -1 when c is not one. */
static inline int bp_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif /* BP_HEX_H */
