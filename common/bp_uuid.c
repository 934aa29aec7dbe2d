/* bp_uuid.c -- random UUID v4 strings: the lock tokens of workers and of the master.
 *
 * The bytes come from getrandom(2) (the kernel CSPRNG), so two processes forked from one
 * parent never share a token. */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bp_queue.h"

void bp_uuid4(char out[37])
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno != EINTR) {
            /* no getrandom (very old kernel): clock and pid, still unique per process */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            unsigned long long x = ((unsigned long long)ts.tv_nsec << 20) ^
                                   (unsigned long long)ts.tv_sec ^ (unsigned long long)getpid();
            for (; got < sizeof(b); got++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b[got] = (unsigned char)x;
            }
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}
