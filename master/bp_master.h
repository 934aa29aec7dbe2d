/* bp_master.h -- the master process: its state, shared by the master's own files
 * (bp_master.c main loop, bp_supervisor.c slots, bp_health.c heartbeats and verdicts,
 * bp_housekeeping.c delayed/stalled/recovery, bp_master_redis.c connections).
 *
 * The master never runs jobs. It parses the configuration once, builds the TLS context and
 * the handler tables (plugins) once per generation, forks the workers, reaps and respawns
 * them, watches them over pub/sub, and does the queue housekeeping once per host. */
#ifndef BP_MASTER_H
#define BP_MASTER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "bp_config.h"
#include "bp_conn.h"
#include "bp_handler.h"
#include "bp_queue.h"
#include "bp_time.h"
#include "bp_worker.h"
#include "bp_worker_link.h"

typedef struct ssl_ctx_st SSL_CTX;

#define BP_SLOT_CONN_IDS 8 /* CLIENT IDs kept per worker: its 3 roles plus reopened ones */

/* One Redis connection of a worker: its CLIENT ID and the server that numbered it (ids are
 * per server: after a failover, or on another Cluster node, the same id is someone else). */
typedef struct bp_conn_ref {
    long long id;
    char node[BP_CONN_NODE_MAX];
} bp_conn_ref;

/* A dead worker's job recovery that Redis could not take yet (outage): retried later. */
typedef struct bp_recovery {
    bp_queue q;                             /* its queue and the dead worker's token */
    char reason[512];                       /* failedReason if the job fails */
    bool timeout;                           /* a timeout kill: fail by the retry rules */
    bp_conn_ref conn_ids[BP_SLOT_CONN_IDS]; /* its Redis connections, closed first */
    int n_conn_ids;                         /* entries used (0 once they are closed) */
    int64_t due_mono;                       /* not before (a death from outside: grace) */
    bool leases;                            /* its queue leases jobs (lease_max > 1) */
    char running[256];                      /* the job its handler ran, "" = none */
} bp_recovery;

#define BP_RECOVERY_MAX 256 /* more waiting than this are left to the stalled check */

/* After a worker died (or at start-up): the unlocked jobs in active are listed once the dead
 * connections are closed (pass 1), and settled a second later (pass 2, stalled.lua "settle"):
 * bp_housekeeping_recover.c. */
typedef struct bp_sweep {
    bp_queue q;      /* the queue to sweep */
    int64_t at_mono; /* when the next pass runs */
    int pass;        /* 1 list, 2 settle */
    bp_orphan *cand; /* pass 1's candidates (BP_ORPHANS_MAX entries, malloc) */
    int n_cand;      /* entries used */
} bp_sweep;

#define BP_SWEEPS_MAX 16 /* queues with a sweep pending at once; more wait for the check */

#define BP_PING_RING 64 /* send times of the last pings, for "unanswered for how long" */

/* A job the master put back to wait with this processedOn: if a dying pull takes it again
 * before any worker locks it, it was never run and costs no stall. */
typedef struct bp_put_back {
    char key_base[400]; /* its queue */
    bp_orphan job;      /* id and processedOn */
    int64_t at_mono;    /* when, 0 = unused entry */
} bp_put_back;

#define BP_PUT_BACK_MAX 64 /* remembered put-backs (a ring) */

/* Why the master killed a worker (decides the recovery text and the metrics label). */
typedef enum bp_kill_cause {
    BP_KILL_NONE,
    BP_KILL_HUNG,     /* no heartbeat, deaf subscriber, silent bclient, frozen loop */
    BP_KILL_TIMEOUT,  /* job past its timeout and the grace */
    BP_KILL_SHUTDOWN, /* fast stop, or graceful stop past shutdown_timeout_ms */
} bp_kill_cause;

/* One worker process slot. */
typedef struct bp_slot {
    int in_use;               /* slot holds a worker (running or waiting to respawn) */
    int queue_idx;            /* index in the current config's queues */
    int index;                /* worker number shown in logs and titles */
    int generation;           /* config generation it was started with */
    pid_t pid;                /* 0 while not running */
    bp_queue q;               /* its queue and lock token (for recovery by token) */
    int64_t spawned_mono;     /* when it was forked */
    int64_t respawn_at_mono;  /* earliest next spawn (per-slot backoff) */
    bp_backoff backoff;       /* per-slot respawn pacing */
    int quick_deaths;         /* deaths soon after start, in a row */
    int retiring;             /* TERM sent on purpose: do not respawn */
    int64_t term_mono;        /* when TERM was sent (for the KILL escalation) */
    bp_kill_cause kill_cause; /* set when the master killed it */
    char kill_reason[256];    /* the verdict, for the log and the failedReason */
    int64_t soft_signal_mono; /* job timeout: when the soft signal went */
    int recycle_after;        /* jobs before recycling (with jitter), 0 = never */
    bp_worker_link link;      /* local channel to the running worker (master end open) */
    bp_conn_ref conn_ids[BP_SLOT_CONN_IDS]; /* Redis connections it reported (newest last) */
    int n_conn_ids;                         /* entries used */
    /* from the last heartbeat */
    int64_t last_hb_mono;   /* 0 = none yet */
    int connected;          /* a heartbeat has been seen: its connections are up */
    char state[16];         /* idle busy paused draining */
    char job[256];          /* current job id, "" when idle */
    int64_t job_started_ms; /* wall ms */
    int64_t job_timeout_ms; /* 0 = none */
    long long ping_seq;     /* last ping its subscriber saw */
    long long seq_at_spawn; /* the master's ping seq when it was forked */
    int64_t loop_ms;        /* wall ms its main loop last moved */
    int64_t bclient_ms;     /* wall ms its blocking pull began, 0 = not in one */
    long long jobs_done;
    long long jobs_failed;
    long long jobs_us; /* total run time of its finished jobs */
    long long rss_kb;
    int block_timeout_s;      /* its queue's block_timeout_s when it was forked */
    int lease_max;            /* its queue's lease_max when it was forked */
    bp_worker_shared *shared; /* page shared with the worker (running job), NULL = none */
    long long echo_seq;       /* last ping it echoed over Redis (proves client + subscriber) */
    long long sub_count;      /* its subscriber's (re)subscriptions: a new one forgives pings */
    long long cmds;           /* Redis commands it reported sending (its process total) */
} bp_slot;

typedef struct bp_run_options {
    const char *config_path; /* -c */
    int workers_override;    /* -w N, -1 = from the config */
    bool daemonize;          /* -d */
    const char *pidfile;     /* --pidfile, NULL = pool.pidfile */
    int argc;                /* the original command line, for USR2 re-exec */
    char **argv;
    pid_t upgrade_from; /* BULLPEN_UPGRADE_FROM: the old master to stop once ready */
} bp_run_options;

typedef struct bp_master {
    const bp_run_options *opts;
    bp_config *cfg;             /* current generation */
    int generation;             /* bumped by every successful reload */
    SSL_CTX *tls;               /* current generation's context; NULL without TLS */
    bp_handlers **handlers;     /* per queue of cfg */
    int *want;                  /* wanted workers per queue of cfg */
    bp_queue *queues;           /* per queue of cfg, master token (housekeeping) */
    int64_t *next_promote_mono; /* per queue */
    int64_t *next_stalled_mono; /* per queue */
    char hostname[256];

    bp_slot *slots;    /* the process table */
    int n_slots;       /* entries in slots (in use or not) */
    int next_index;    /* next worker number */
    int death_pipe[2]; /* workers hold the read end: EOF = the master is gone */

    bp_conn *client;           /* housekeeping, pings, host key ("master") */
    bp_conn *sub;              /* control + heartbeat + delayed channels ("master-subscriber") */
    int64_t sub_up_since_mono; /* 0 while the subscriber is down: verdicts suspended */
    int64_t next_redis_try_mono;
    bp_err redis_err;         /* why the last connect failed */
    bp_backoff redis_backoff; /* the master's reconnect pacing */
    char control_channel[BP_CHANNEL_MAX];
    char to_worker_channel[BP_CHANNEL_MAX];
    char heartbeat_channel[BP_CHANNEL_MAX];
    char host_key[BP_CHANNEL_MAX];

    long long ping_seq; /* last ping sent */
    int64_t next_ping_mono;
    int64_t ping_mono[BP_PING_RING]; /* when ping seq was sent, at [seq % BP_PING_RING] */
    long long cmds_total;            /* Redis commands of the whole pool (workers + master) */
    long long cmds_master_seen;      /* the master's own count at the last sum */
    int64_t cmds_sample_mono;        /* last rate sample */
    long long cmds_sample_total;     /* cmds_total then */
    double cmds_rate;                /* the pool's own commands per second, last window */
    int cmds_idle_window;            /* every worker stayed idle through this window */
    long long jobs_seen;             /* jobs done + failed by live workers, last tick */
    int64_t jobs_moved_mono;         /* when jobs_seen last changed */
    int64_t depths_mono;             /* when the queue depths were last read (/metrics) */
    char host_sig[1024];             /* what the host key last said (states, jobs) */
    int64_t host_key_mono;           /* when it was last written, 0 = never */
    int host_health;                 /* live (1) and ready (2) as it last said */

    int breaker_open;   /* Redis unreachable: no spawns until it answers again */
    int start_failures; /* workers that exited 75 at start, in a row */

    int quiet;                  /* TSTP: workers do not pull */
    int stopping;               /* 1 graceful, 2 fast */
    int64_t stop_deadline_mono; /* graceful: kill what still runs after this */
    int halted;                 /* a worker exited 78: the configuration must be fixed */
    int ready_logged;           /* "pool ready" said for this generation */
    int exit_code;              /* what bullpen run exits with */
    pid_t upgrade_from;         /* the old master to stop when this one is ready (USR2) */
    pid_t upgrade_child;        /* the new master this one exec'd (USR2) */
    void *pidfile;              /* bp_pidfile *, NULL without one */
    int ready_fd;               /* -d: the starter waits on this until the pool is up */
    int64_t started_mono;       /* when bullpen run started */
    void *metrics;              /* bp_metrics *, always present (served only with listen) */
    int64_t next_metrics_mono;  /* queue depths, gauges */
    int64_t next_watchdog_mono; /* systemd watchdog pings */
    int64_t watchdog_ms;        /* 0 = no watchdog */
    void (*set_title)(const char *title); /* for workers' process titles */
    void *ctl_nonces;                     /* replay cache for signed ctl messages */
    bp_recovery *recoveries; /* waiting for Redis (BP_RECOVERY_MAX entries), lazily allocated */
    int n_recoveries;        /* entries used */
    bp_sweep sweeps[BP_SWEEPS_MAX];        /* pending sweeps after worker deaths */
    int n_sweeps;                          /* entries used */
    bp_put_back put_back[BP_PUT_BACK_MAX]; /* jobs the master put back (ring) */
    unsigned put_back_next;                /* next ring entry */
    int client_kill_refused;               /* Redis refuses CLIENT KILL: said once */
    int dead_pool_started;                 /* start-up: dead pool's connections closed */
    int64_t dead_pool_next_mono;           /* next look at the token registry, -1 = none needed */
} bp_master;

/* Liveness and readiness (bp_readiness.c). */
typedef struct bp_pool_health {
    bool live;               /* the master loop runs and reaches Redis */
    bool ready;              /* live, not stopping, every configured worker connected */
    int want;                /* configured workers, all queues */
    int up;                  /* connected, not retiring */
    char why_not_live[256];  /* "" when live */
    char why_not_ready[320]; /* "" when ready */
} bp_pool_health;

void bp_master_health(const bp_master *m, bp_pool_health *h);

/* bullpen run: returns the exit code. */
int bp_master_run(const bp_run_options *opts);

/* bp_master_redis.c */
int bp_master_redis_tick(bp_master *m);  /* (re)connect, subscribe */
void bp_master_redis_poll(bp_master *m); /* read subscriber messages */
void bp_master_redis_drop(bp_master *m, const char *why);
int bp_master_publish(bp_master *m, const char *channel, const char *msg);

/* bp_supervisor.c */
void bp_supervisor_init(bp_master *m);
void bp_supervisor_spawn_due(bp_master *m); /* fork what is wanted and due */
void bp_supervisor_reap(bp_master *m);      /* wait4 every exited child */
void bp_supervisor_kill(bp_master *m, bp_slot *s, bp_kill_cause cause, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bp_supervisor_retire(bp_slot *s, const char *why); /* TERM, no respawn */
void bp_supervisor_scale(bp_master *m, int queue_idx, int n);
void bp_supervisor_signal_all(bp_master *m, int signo);
void bp_supervisor_tick(bp_master *m);       /* escalation, recycling, reload roll */
int bp_supervisor_alive(const bp_master *m); /* running worker processes */
bp_slot *bp_supervisor_find_pid(bp_master *m, pid_t pid);
void bp_supervisor_read_links(bp_master *m); /* every message the workers sent, now */
int bp_supervisor_poll_fds(const bp_master *m, struct pollfd *p, int cap); /* link fds */

/* bp_health.c */
void bp_health_on_heartbeat(bp_master *m, const char *json, size_t len);
void bp_health_tick(bp_master *m);           /* pings, verdicts, host key */
void bp_health_on_sub_up(bp_master *m);      /* forgive silence during an outage */
void bp_health_write_host_key(bp_master *m); /* the worker table `bullpen stats` reads */
/* a heartbeat that came over s's local link (bp_worker_link.h, kind "hb") */
void bp_health_on_link_heartbeat(bp_master *m, bp_slot *s, const char *json);

/* bp_housekeeping.c */
void bp_housekeeping_tick(bp_master *m);
void bp_housekeeping_on_delayed(bp_master *m, const char *channel, const char *msg);
/* A dead worker's jobs: its connections are closed at once; its jobs are moved at once, or
 * after BP_RECOVER_GRACE_MS when outside (a signal bullpen did not send, a crash: a mass
 * kill may still be under way). */
void bp_housekeeping_recover(bp_master *m, bp_slot *s, const char *reason, bool timeout,
                             bool outside);
void bp_housekeeping_flush(bp_master *m, bool all); /* due ones (all: every one, at exit) */
void bp_housekeeping_on_sub_up(bp_master *m);       /* promote at once: messages may be lost */
/* bp_housekeeping_recover.c: a worker's token in the host's registry while it runs, so a
 * new master recovers its jobs at once if the whole pool died; the start-up sweep. */
void bp_housekeeping_register(bp_master *m, const bp_slot *s);
void bp_housekeeping_unregister(bp_master *m, const bp_slot *s);
void bp_housekeeping_dead_pool_tick(bp_master *m); /* sweeps; start-up; registry */

/* bp_master.c: in a freshly forked worker, let go of what belongs to the master alone
 * (the -d readiness pipe, the pidfile lock fd, the metrics socket). */
void bp_master_child_cleanup(bp_master *m);

/* bp_master.c: TSTP/CONT and ctl pause/resume: tell the workers to stop or start pulling. */
void bp_master_set_quiet(bp_master *m, int quiet);

/* bp_master_ctl.c: a message on the control channel (signed ctl command). */
void bp_master_on_ctl(bp_master *m, const char *text, size_t len);

#endif /* BP_MASTER_H */
