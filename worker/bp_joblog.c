/* bp_joblog.c -- the per-job bound on log lines sent to Redis (see bp_joblog.h). The ring
 * holds copies of the newest held-out lines; its slots are freed at the end of every job, so
 * nothing outlives the job. */
#include "bp_joblog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bp_joblog_begin(bp_joblog *jl, int max_lines, size_t max_line_bytes)
{
    memset(jl, 0, sizeof(*jl));
    jl->max_lines = max_lines;
    jl->max_bytes = max_line_bytes + 4; /* room to finish a UTF-8 sequence: cut when sent */
    if (max_lines <= 1)
        return 0; /* nothing to hold: one line is the note itself */
    jl->ring = calloc((size_t)max_lines - 1, sizeof(char *));
    if (jl->ring == NULL) {
        jl->max_lines = 0; /* send everything: LTRIM still bounds what Redis keeps */
        return -1;
    }
    jl->ring_cap = max_lines - 1;
    return 0;
}

int bp_joblog_admit(bp_joblog *jl, const char *line)
{
    if (jl->max_lines <= 0 || jl->sent < jl->max_lines) {
        jl->sent++;
        return 1;
    }
    jl->held_out++;
    if (jl->ring_cap > 0) {
        char *copy = strndup(line, jl->max_bytes);
        if (copy != NULL) {
            free(jl->ring[jl->ring_next]);
            jl->ring[jl->ring_next] = copy;
            jl->ring_next = (jl->ring_next + 1) % jl->ring_cap;
        }
    }
    return 0;
}

void bp_joblog_end(bp_joblog *jl, void (*send)(void *arg, const char *line), void *arg)
{
    if (jl->held_out > 0) {
        long long kept = jl->held_out < jl->ring_cap ? jl->held_out : jl->ring_cap;
        char note[160];

        snprintf(note, sizeof(note), "bullpen: %lld log line%s skipped, the last %lld follow",
                 jl->held_out - kept, jl->held_out - kept == 1 ? "" : "s", kept);
        send(arg, note);
        /* oldest first: when the ring is full that is the slot the next line would take */
        for (int i = 0; i < jl->ring_cap; i++) {
            int slot = (jl->held_out < jl->ring_cap ? i : jl->ring_next + i) % jl->ring_cap;
            if (jl->ring[slot] != NULL)
                send(arg, jl->ring[slot]);
        }
    }
    for (int i = 0; i < jl->ring_cap; i++)
        free(jl->ring[i]);
    free(jl->ring);
    memset(jl, 0, sizeof(*jl));
}
