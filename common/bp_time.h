/* bp_time.h -- clocks and the one backoff.
 *
 * Wall-clock milliseconds (what Bull stores: Date.now()), monotonic milliseconds (what
 * deadlines use), and exponential backoff with full jitter for every retry loop. */
#ifndef BP_TIME_H
#define BP_TIME_H

#include <stdint.h>

int64_t bp_now_ms(void);  /* CLOCK_REALTIME in ms since the epoch: Bull's timestamps */
int64_t bp_mono_ms(void); /* CLOCK_MONOTONIC in ms: deadlines and intervals */
int64_t bp_mono_us(void); /* CLOCK_MONOTONIC in microseconds: latency samples */
void bp_sleep_ms(int64_t ms);

typedef struct bp_backoff {
    int64_t base_ms;  /* first cap: the first delay is in [0, base_ms] */
    int64_t max_ms;   /* the cap never exceeds this */
    unsigned attempt; /* failures so far; 0 after bp_backoff_reset() */
    uint64_t rng;     /* xorshift state; seeded per process */
} bp_backoff;

/* Start a backoff; seed 0 picks one from the clock and pid. */
void bp_backoff_init(bp_backoff *b, int64_t base_ms, int64_t max_ms, uint64_t seed);
void bp_backoff_reset(bp_backoff *b);

/* The delay before the next try: uniform in [0, min(max, base * 2^attempt)] ("full
 * jitter"), then attempt++. */
int64_t bp_backoff_next(bp_backoff *b);

/* The cap the next call would draw under, without drawing (for logs and tests). */
int64_t bp_backoff_cap(const bp_backoff *b);

#endif /* BP_TIME_H */
