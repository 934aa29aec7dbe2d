/* bp_time.c -- clocks and exponential backoff with full jitter.
 *
 * Full jitter (delay uniform in [0, cap]) spreads reconnects of many workers after a Redis
 * restart, so they do not arrive as one storm. */
#include "bp_time.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

int64_t bp_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bp_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bp_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bp_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

void bp_backoff_init(bp_backoff *b, int64_t base_ms, int64_t max_ms, uint64_t seed)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
    b->attempt = 0;
    if (seed == 0)
        seed = (uint64_t)bp_mono_us() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
    b->rng = seed;
}

void bp_backoff_reset(bp_backoff *b)
{
    b->attempt = 0;
}

int64_t bp_backoff_cap(const bp_backoff *b)
{
    int64_t cap = b->base_ms;

    for (unsigned i = 0; i < b->attempt && cap < b->max_ms; i++)
        cap *= 2;
    return cap < b->max_ms ? cap : b->max_ms;
}

int64_t bp_backoff_next(bp_backoff *b)
{
    int64_t cap = bp_backoff_cap(b);

    if (b->attempt < 64)
        b->attempt++;
    return (int64_t)(xorshift64(&b->rng) % (uint64_t)(cap + 1));
}
