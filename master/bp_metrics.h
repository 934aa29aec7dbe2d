/* bp_metrics.h -- the master's Prometheus metrics: counters and gauges the supervisor updates,
 * rendered as Prometheus text on /metrics, liveness on /healthz and readiness on /readyz,
 * served by libmicrohttpd.
 *
 * The master's main thread updates; the HTTP server's own thread reads. Every function here
 * takes the object's mutex for a few instructions, so it is safe from either thread and
 * cheap enough to call once per job. Queues are named, not numbered: a reload that adds a
 * queue simply starts using its name. Without BP_HAVE_MHD everything works except
 * bp_metrics_start(), which refuses with a clear message.
 *
 * Typical use in the master:
 *
 *     bp_metrics *m = bp_metrics_new();
 *     if (cfg->metrics.listen && bp_metrics_start(m, cfg->metrics.listen, &err) < 0) ...
 *     bp_metrics_job_done(m, "document-processing", BP_METRICS_COMPLETED, 0.042);
 *     bp_metrics_set_healthy(m, true);
 *     ...
 *     bp_metrics_free(m);   // stops the server too
 *
 * After fork(), a worker calls bp_metrics_forget(m) so it does not keep the listening
 * socket open (and never touches the server, whose thread exists only in the master). */
#ifndef BP_METRICS_H
#define BP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"

typedef struct bp_metrics bp_metrics; /* opaque: defined in bp_metrics.c */

/* What happened to a job, as the master learned it (heartbeats, events, recovery). */
typedef enum bp_metrics_outcome {
    BP_METRICS_COMPLETED, /* bullpen_jobs_completed_total; duration observed */
    BP_METRICS_FAILED,    /* bullpen_jobs_failed_total (attempts exhausted); duration observed */
    BP_METRICS_RETRIED,   /* bullpen_jobs_retried_total (failed, will run again) */
    BP_METRICS_RECOVERED, /* bullpen_jobs_recovered_total (its worker died; job put back) */
} bp_metrics_outcome;

/* A queue's job counts by state (bullpen_queue_jobs{state=...}), from Bull's keys. */
typedef enum bp_metrics_state {
    BP_METRICS_WAITING,
    BP_METRICS_ACTIVE,
    BP_METRICS_DELAYED,
    BP_METRICS_COMPLETED_JOBS,
    BP_METRICS_FAILED_JOBS,
    BP_METRICS_PAUSED,
} bp_metrics_state;

/* A new, empty set of metrics (not healthy, no server). NULL only when out of memory.
 * Free with bp_metrics_free(). */
bp_metrics *bp_metrics_new(void);

/* Stop the server if it runs, then free everything. NULL is a no-op. */
void bp_metrics_free(bp_metrics *m);

/* Count one job outcome on queue (copied on first use). duration_s is the job's run time in
 * seconds: observed in bullpen_job_duration_seconds for COMPLETED and FAILED, ignored for
 * the others (pass 0). */
void bp_metrics_job_done(bp_metrics *m, const char *queue, bp_metrics_outcome outcome,
                         double duration_s);

/* Gauges per queue: live worker processes, and the job count in one state. */
void bp_metrics_set_workers(bp_metrics *m, const char *queue, int alive);
void bp_metrics_set_depth(bp_metrics *m, const char *queue, bp_metrics_state state, int64_t count);

/* Count a worker respawned, or killed by the master, with a short cause in [a-z0-9_]
 * ("exit", "sigsegv", "oom", "hung", "deaf", "job_timeout", "rss", "recycle"...). Capitals
 * are lowered, other characters become '_', causes are cut at 31 characters, and past 31
 * distinct causes the rest count as "other". */
void bp_metrics_count_respawn(bp_metrics *m, const char *cause);
void bp_metrics_count_kill(bp_metrics *m, const char *cause);

/* Redis: one more reconnect (any role, any process the master hears of); the latest
 * round-trip time in seconds; idle commands per second (what an idle pool costs). */
void bp_metrics_count_reconnect(bp_metrics *m);
void bp_metrics_set_rtt(bp_metrics *m, double seconds);
void bp_metrics_set_idle_rate(bp_metrics *m, double commands_per_s);
/* The pool's own Redis commands (its workers' and the master's, counted where they are
 * sent): per second over the last window, and in all since start. */
void bp_metrics_set_commands_rate(bp_metrics *m, double commands_per_s, double total);

/* The pool's health, set by the master loop on every turn. /healthz (liveness) answers 200
 * while live is true AND the last call is younger than BP_METRICS_LIVE_STALE_MS (the call
 * itself proves the master loop runs); /readyz (readiness) answers 200 while ready is true
 * and the loop runs. Otherwise 503 with why_not_live / why_not_ready (may be NULL) in the
 * body. Both start false: 503 until the first call. */
#define BP_METRICS_LIVE_STALE_MS                              \
    15000 /* a loop silent this long is hung (a command waits \
             at most command_timeout_ms, 5 s by default) */
void bp_metrics_set_health(bp_metrics *m, bool live, bool ready, const char *why_not_live,
                           const char *why_not_ready);
/* Shorthand for tests and simple callers: live = ready = healthy, no reasons. */
void bp_metrics_set_healthy(bp_metrics *m, bool healthy);

/* The Prometheus text exposition (format 0.0.4) of everything above. Stores a malloc'ed,
 * NUL-terminated string in *out (caller frees) and its length in *len; returns 0, or -1
 * with err set when out of memory. */
int bp_metrics_render(bp_metrics *m, char **out, size_t *len, bp_err *err);

/* Serve /metrics, /healthz and /readyz on listen, "host:port" ("127.0.0.1:9187", "[::1]:9187",
 * "0.0.0.0:9187"; port 0 picks a free one, see bp_metrics_port()), from a thread of its
 * own. Returns 0, or -1 with err set: bad address (BP_ERR_CONFIG), cannot bind (BP_ERR_IO,
 * e.g. the port is in use), or built without libmicrohttpd (BP_ERR_CONFIG). Calling it
 * while the server runs is an error. */
int bp_metrics_start(bp_metrics *m, const char *listen, bp_err *err);

/* The TCP port the server listens on, or 0 when it does not run. */
int bp_metrics_port(const bp_metrics *m);

/* Stop the server and close its socket; the metrics are kept. No-op when not running. */
void bp_metrics_stop(bp_metrics *m);

/* In a child after fork(): close the inherited listening socket and forget the server
 * without touching it (its thread does not exist in the child). The metrics stay usable. */
void bp_metrics_forget(bp_metrics *m);

#endif /* BP_METRICS_H */
