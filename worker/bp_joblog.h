/* bp_joblog.h -- how many of one job's log lines go to Redis, and when.
 *
 * Every handler log line (exec stderr, plugin log/warn, document warnings) would be one
 * script call; a chatty program could make thousands per job. A job's first max_lines lines
 * go to Redis at once (bull-board shows them live); after that the newest max_lines - 1 are
 * kept here and, when the job ends, written after one line saying how many were left out.
 * Redis then holds what Bull's keepLogs trim would leave (the newest max_lines, the first of
 * them the note) for at most 2 x max_lines calls per job. Main thread only. */
#ifndef BP_JOBLOG_H
#define BP_JOBLOG_H

#include <stddef.h>

typedef struct bp_joblog {
    int max_lines;      /* the queue's log_max_lines (0 = job logs off) */
    size_t max_bytes;   /* bytes of a held line kept (the sender cuts it at a character) */
    int sent;           /* lines of this job written to Redis as they came */
    long long held_out; /* lines past max_lines: kept in ring or dropped */
    char **ring;        /* the newest held-out lines, max_lines - 1 slots (malloc) */
    int ring_cap;       /* slots in ring */
    int ring_next;      /* where the next held-out line goes */
} bp_joblog;

/* Start a job. Returns 0, or -1 when out of memory (every line is then sent as it comes). */
int bp_joblog_begin(bp_joblog *jl, int max_lines, size_t max_line_bytes);

/* A line of the current job: 1 = write it to Redis now; 0 = held (or dropped) here. */
int bp_joblog_admit(bp_joblog *jl, const char *line);

/* End of the job: calls send(arg, line) for the note and the held lines, oldest first, then
 * frees them. Safe to call when nothing was held. */
void bp_joblog_end(bp_joblog *jl, void (*send)(void *arg, const char *line), void *arg);

#endif /* BP_JOBLOG_H */
