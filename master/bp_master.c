/* bp_master.c -- `bullpen run`: the master's life from start to exit.
 *
 * Start: load the configuration once, build the TLS context and handler tables once (the
 * plugins are loaded here, before any fork), then fork the workers. Loop: poll the signal
 * self-pipe and the subscriber; act on signal flags in a fixed order (shutdown, reap,
 * reload, scale, quiet, reopen, upgrade); then the timers (Redis reconnect, health, house-
 * keeping, respawns). The master never fetches jobs. */
#include "bp_master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "bp_daemon.h"
#include "bp_log.h"
#include "bp_metrics.h"
#include "bp_notify.h"
#include "bp_pidfile.h"
#include "bp_proctitle.h"
#include "bp_signals.h"
#include "bp_tls.h"

#define BP_MASTER_TICK_MS    100  /* the loop wakes at least this often for its timers */
#define BP_METRICS_EVERY_MS  2000 /* queue depths and gauges for /metrics */
#define BP_MASTER_POLL_LINKS 1024 /* worker links polled; more are still read every tick */
#define BP_DAEMON_READY_WAIT_MS                               \
    30000 /* -d: the starter is released after this even when \
             Redis has not answered yet (the pool keeps trying) */

/* One generation: config, TLS context, handler tables, per-queue state. */
typedef struct generation {
    bp_config *cfg;
    SSL_CTX *tls;
    bp_handlers **handlers;
    int *want;
    bp_queue *queues;
    int64_t *next_promote_mono;
    int64_t *next_stalled_mono;
} generation;

static void generation_free(generation *g)
{
    if (g->cfg != NULL && g->handlers != NULL) {
        for (size_t i = 0; i < g->cfg->n_queues; i++)
            bp_handlers_free(g->handlers[i]);
    }
    free(g->handlers);
    free(g->want);
    free(g->queues);
    free(g->next_promote_mono);
    free(g->next_stalled_mono);
    bp_tls_ctx_free(g->tls);
    bp_config_free(g->cfg);
    memset(g, 0, sizeof(*g));
}

/* Build everything a generation needs from path. 0, or -1 with err (file:line for config). */
static int generation_load(generation *g, const char *path, int workers_override, bp_err *err)
{
    size_t n;

    memset(g, 0, sizeof(*g));
    if (bp_config_load(&g->cfg, path, err) != 0)
        return -1;
    n = g->cfg->n_queues;
    if (g->cfg->redis.transport == BP_TRANSPORT_TLS &&
        bp_tls_ctx_new(&g->tls, &g->cfg->redis.tls, err) != 0)
        goto out_free;
    g->handlers = calloc(n, sizeof(*g->handlers));
    g->want = calloc(n, sizeof(*g->want));
    g->queues = calloc(n, sizeof(*g->queues));
    g->next_promote_mono = calloc(n, sizeof(int64_t));
    g->next_stalled_mono = calloc(n, sizeof(int64_t));
    if (g->handlers == NULL || g->want == NULL || g->queues == NULL ||
        g->next_promote_mono == NULL || g->next_stalled_mono == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        const bp_queue_config *qc = &g->cfg->queues[i];
        if (bp_handlers_new(&g->handlers[i], qc, err) != 0)
            goto out_free;
        g->want[i] = workers_override >= 0 && i == 0 ? workers_override : qc->workers;
        bp_queue_init(&g->queues[i], qc->prefix, qc->name, NULL, qc->lock_duration_ms,
                      qc->stalled_interval_ms, qc->max_stalled);
        bp_queue_set_limits(&g->queues[i], qc->limiter.max, qc->limiter.duration_ms,
                            qc->limiter.group_key, qc->metrics_max_points, qc->log_max_lines,
                            qc->log_max_line_bytes);
    }
    return 0;

out_free:
    generation_free(g);
    return -1;
}

/* Exchange the generation the master runs with g: installs g and hands back the one that
 * ran (empty at start), so the caller frees or keeps it. */
static void generation_swap(bp_master *m, generation *g)
{
    generation running = {m->cfg,
                          m->tls,
                          m->handlers,
                          m->want,
                          m->queues,
                          m->next_promote_mono,
                          m->next_stalled_mono};

    m->cfg = g->cfg;
    m->tls = g->tls;
    m->handlers = g->handlers;
    m->want = g->want;
    m->queues = g->queues;
    m->next_promote_mono = g->next_promote_mono;
    m->next_stalled_mono = g->next_stalled_mono;
    *g = running;
}

static void set_channels(bp_master *m)
{
    const char *cc = m->cfg->pool.control_channel;
    long pid = (long)getpid();

    snprintf(m->control_channel, sizeof(m->control_channel), "%s", cc);
    snprintf(m->to_worker_channel, sizeof(m->to_worker_channel), "%s:workers:%s:%ld", cc,
             m->hostname, pid);
    snprintf(m->heartbeat_channel, sizeof(m->heartbeat_channel), "%s:heartbeats:%s:%ld", cc,
             m->hostname, pid);
    snprintf(m->host_key, sizeof(m->host_key), "%s:host:%s:%ld", cc, m->hostname, pid);
}

static void open_log(const bp_config *cfg)
{
    if (bp_log_open(cfg->log.level, cfg->log.file, cfg->log.syslog, cfg->log.format) != 0)
        bp_log_error("cannot open log file '%s': %s; logging to stderr (check log.file in %s)",
                     cfg->log.file, strerror(errno), cfg->path);
}

static void reload(bp_master *m)
{
    generation fresh;
    bp_err err;

    bp_log_notice("reloading %s", m->opts->config_path);
    bp_notify_reloading();
    if (generation_load(&fresh, m->opts->config_path, -1, &err) != 0) {
        bp_log_error("reload refused, keeping the running configuration: %s", err.msg);
        bp_notify_ready("reload refused: configuration error (see the log)");
        return;
    }
    /* old slots keep their own bp_queue copy; those of queues that are gone retire now */
    for (int i = 0; i < m->n_slots; i++) {
        bp_slot *s = &m->slots[i];
        int found = -1;
        for (size_t q = 0; q < fresh.cfg->n_queues; q++) {
            if (strcmp(fresh.cfg->queues[q].name, s->q.name) == 0)
                found = (int)q;
        }
        if (found < 0 && s->in_use)
            bp_supervisor_retire(s, "its queue is no longer configured");
        s->queue_idx = found >= 0 ? found : 0;
        if (!s->retiring && s->pid == 0)
            s->in_use = 0; /* waiting to respawn: the new generation will fill it */
    }
    generation_swap(m, &fresh); /* fresh now holds the old generation */
    m->generation++;
    m->ready_logged = 0;
    open_log(m->cfg);
    /* the old handlers stay loaded in old workers (their own copy); free the master's */
    generation_free(&fresh);
    bp_log_notice("configuration reloaded (generation %d): workers are replaced one at a time",
                  m->generation);
    bp_notify_ready("configuration reloaded");
}

static void begin_stop(bp_master *m, int fast)
{
    if (m->stopping >= (fast ? 2 : 1))
        return;
    m->stopping = fast ? 2 : 1;
    bp_notify_stopping();
    if (fast) {
        bp_log_notice("fast stop: killing workers and recovering their jobs at once");
        for (int i = 0; i < m->n_slots; i++) {
            if (m->slots[i].pid > 0)
                bp_supervisor_kill(m, &m->slots[i], BP_KILL_SHUTDOWN,
                                   "fast stop while the job ran");
        }
        return;
    }
    m->stop_deadline_mono = bp_mono_ms() + m->cfg->pool.shutdown_timeout_ms;
    bp_log_notice("graceful stop: workers finish their jobs (up to %d ms)",
                  m->cfg->pool.shutdown_timeout_ms);
    for (int i = 0; i < m->n_slots; i++) {
        m->slots[i].retiring = 1;
        m->slots[i].term_mono = bp_mono_ms();
        if (m->slots[i].pid > 0)
            kill(m->slots[i].pid, SIGTERM);
    }
}

void bp_master_set_quiet(bp_master *m, int quiet)
{
    if (m->quiet == quiet)
        return;
    m->quiet = quiet;
    bp_log_notice(quiet ? "quiet: workers stop pulling jobs (SIGCONT resumes)"
                        : "resumed: workers pull jobs again");
    bp_master_publish(m, m->to_worker_channel, quiet ? "pause" : "resume");
}

/* USR2: re-execute the binary, nginx style. The new master stops this one when it is up. */
static void upgrade(bp_master *m)
{
    bp_err err;
    char from[32];
    pid_t pid;

    if (m->upgrade_child > 0) {
        bp_log_warn("an upgrade is already running (new master pid %ld)", (long)m->upgrade_child);
        return;
    }
    if (m->pidfile != NULL && bp_pidfile_rename_oldbin(m->pidfile, &err) != 0) {
        bp_log_error("upgrade refused: %s", err.msg);
        return;
    }
    snprintf(from, sizeof(from), "%ld", (long)getpid());
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        bp_signals_reset_child();
        setenv("BULLPEN_UPGRADE_FROM", from, 1);
        execv("/proc/self/exe", m->opts->argv);
        execvp(m->opts->argv[0], m->opts->argv);
        _exit(EX_OSERR);
    }
    if (pid < 0) {
        bp_log_error("upgrade: cannot fork: %s", strerror(errno));
        if (m->pidfile != NULL)
            bp_pidfile_rename_back(m->pidfile, &err);
        return;
    }
    m->upgrade_child = pid;
    bp_log_notice("upgrade: started the new master (pid %ld); this one stops when it is ready",
                  (long)pid);
}

static void handle_signals(bp_master *m)
{
    bp_signal_flags *f = &bp_signals_pending;

    if (f->shutdown_fast) {
        f->shutdown_fast = 0;
        begin_stop(m, 1);
    }
    if (f->shutdown_graceful) {
        f->shutdown_graceful = 0;
        if (m->upgrade_child > 0) /* the new master took over: systemd follows it */
            bp_notify_mainpid(m->upgrade_child);
        begin_stop(m, 0);
    }
    if (f->child) {
        f->child = 0;
        bp_supervisor_reap(m);
    }
    if (f->reload) {
        f->reload = 0;
        if (!m->stopping)
            reload(m);
    }
    if (f->more) {
        f->more = 0;
        bp_supervisor_scale(m, 0, m->want[0] + 1);
    }
    if (f->fewer) {
        f->fewer = 0;
        if (m->want[0] > 0)
            bp_supervisor_scale(m, 0, m->want[0] - 1);
    }
    if (f->quiet) {
        f->quiet = 0;
        bp_master_set_quiet(m, 1);
    }
    if (f->resume) {
        f->resume = 0;
        bp_master_set_quiet(m, 0);
    }
    if (f->reopen) {
        f->reopen = 0;
        bp_log_reopen();
        bp_supervisor_signal_all(m, SIGUSR1);
        bp_log_info("log files reopened");
    }
    if (f->upgrade) {
        f->upgrade = 0;
        upgrade(m);
    }
}

static void maybe_log_ready(bp_master *m)
{
    int want = 0, up = 0;

    if (m->ready_logged || m->stopping)
        return;
    for (size_t i = 0; i < m->cfg->n_queues; i++)
        want += m->want[i];
    for (int i = 0; i < m->n_slots; i++)
        up += m->slots[i].pid > 0 && m->slots[i].connected &&
              m->slots[i].generation == m->generation && !m->slots[i].retiring;
    if (up < want)
        return;
    m->ready_logged = 1;
    if (m->client != NULL) /* `bullpen stats` shows the workers from this line on */
        bp_health_write_host_key(m);
    if (m->upgrade_from > 0) {
        bp_log_notice("upgrade: asking the old master (pid %ld) to stop", (long)m->upgrade_from);
        kill(m->upgrade_from, SIGTERM);
        m->upgrade_from = 0;
    }
    bp_daemon_ready(m->ready_fd, 0);
    m->ready_fd = -1;
    bp_notify_ready("pool ready");
    bp_proctitle_set("bullpen: master [%zu queue%s, %d workers]", m->cfg->n_queues,
                     m->cfg->n_queues == 1 ? "" : "s", up);
    if (m->cfg->n_queues == 1)
        bp_log_notice("pool ready: %d worker%s on %s", up, up == 1 ? "" : "s",
                      m->cfg->queues[0].name);
    else
        bp_log_notice("pool ready: %d workers on %zu queues", up, m->cfg->n_queues);
}

void bp_master_child_cleanup(bp_master *m)
{
    if (m->ready_fd >= 0)
        close(m->ready_fd);
    bp_pidfile_abandon(m->pidfile);
    bp_metrics_forget(m->metrics);
}

static void set_worker_title(const char *title)
{
    bp_proctitle_set("%s", title);
}

/* Gauges for /metrics, the systemd watchdog, and the -d starter's patience. */
static void periodic(bp_master *m)
{
    int64_t now = bp_mono_ms();
    bp_pool_health h;

    if (m->ready_fd >= 0 && now - m->started_mono > BP_DAEMON_READY_WAIT_MS) {
        bp_log_warn("the pool is not ready after %d ms (Redis unreachable?); detaching anyway, "
                    "it keeps trying",
                    BP_DAEMON_READY_WAIT_MS);
        bp_daemon_ready(m->ready_fd, 0);
        m->ready_fd = -1;
    }
    /* the watchdog proves the master's loop runs; a Redis outage must not get it killed */
    if (m->watchdog_ms > 0 && !m->halted && now >= m->next_watchdog_mono) {
        bp_notify_watchdog();
        m->next_watchdog_mono = now + m->watchdog_ms; /* already half of WatchdogSec */
    }
    /* every turn: the call itself is what proves to /healthz that this loop runs */
    bp_master_health(m, &h);
    bp_metrics_set_health(m->metrics, h.live, h.ready, h.why_not_live, h.why_not_ready);
    if (now < m->next_metrics_mono)
        return;
    m->next_metrics_mono = now + BP_METRICS_EVERY_MS;
    /* while jobs move (and a few seconds after: the last completions), and once per probe */
    bool depths = now - m->jobs_moved_mono <= 3 * BP_METRICS_EVERY_MS ||
                  now - m->depths_mono >= m->cfg->pool.probe_ms;
    for (size_t qi = 0; qi < m->cfg->n_queues; qi++) {
        int alive = 0;
        for (int i = 0; i < m->n_slots; i++)
            alive +=
                m->slots[i].pid > 0 && strcmp(m->slots[i].q.name, m->cfg->queues[qi].name) == 0;
        bp_metrics_set_workers(m->metrics, m->cfg->queues[qi].name, alive);
        /* queue depths cost an EVALSHA per queue: every 2 s while jobs move, once per
         * probe_ms while the pool is idle */
        if (m->cfg->metrics.listen != NULL && m->client != NULL && depths) {
            bp_queue_counts c;
            bp_err err;
            int64_t t0 = bp_mono_us();
            if (bp_queue_get_counts(m->client, &m->queues[qi], &c, &err) == 0) {
                const char *qn = m->cfg->queues[qi].name;
                bp_metrics_set_rtt(m->metrics, (double)(bp_mono_us() - t0) / 1e6);
                bp_metrics_set_depth(m->metrics, qn, BP_METRICS_WAITING, c.waiting);
                bp_metrics_set_depth(m->metrics, qn, BP_METRICS_ACTIVE, c.active);
                bp_metrics_set_depth(m->metrics, qn, BP_METRICS_DELAYED, c.delayed);
                bp_metrics_set_depth(m->metrics, qn, BP_METRICS_COMPLETED_JOBS, c.completed);
                bp_metrics_set_depth(m->metrics, qn, BP_METRICS_FAILED_JOBS, c.failed);
                bp_metrics_set_depth(m->metrics, qn, BP_METRICS_PAUSED, c.paused);
            } else if (err.kind != BP_ERR_REPLY) {
                bp_master_redis_drop(m, err.msg);
            }
        }
    }
    if (depths && m->cfg->metrics.listen != NULL && m->client != NULL) {
        m->depths_mono = now;
    }
}

static void master_loop(bp_master *m, int sig_fd)
{
    for (;;) {
        struct pollfd p[2 + BP_MASTER_POLL_LINKS] = {
            {.fd = sig_fd, .events = POLLIN},
            {.fd = m->sub != NULL ? bp_conn_fd(m->sub) : -1, .events = POLLIN}};
        int timeout = BP_MASTER_TICK_MS;
        int n = 2 + bp_supervisor_poll_fds(m, p + 2, BP_MASTER_POLL_LINKS);

        if (m->sub != NULL && bp_conn_has_pending(m->sub))
            timeout = 0;
        if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) {
            bp_log_crit("poll: %s", strerror(errno));
            m->exit_code = EX_OSERR;
            break;
        }
        if (p[0].revents & POLLIN)
            bp_signals_drain();
        bp_supervisor_read_links(m); /* before a reap: a dying worker's last words */
        handle_signals(m);
        if (m->sub != NULL &&
            ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) || bp_conn_has_pending(m->sub)))
            bp_master_redis_poll(m);
        bp_supervisor_reap(m); /* also catches a SIGCHLD that raced the flag */
        if (m->halted && !m->stopping) {
            bp_daemon_fail(m->ready_fd, EX_CONFIG,
                           "a worker could not start: the configuration is wrong (see the log)");
            m->ready_fd = -1;
            begin_stop(m, 0);
        }
        if (m->stopping) {
            if (m->stopping == 1 && bp_mono_ms() > m->stop_deadline_mono) {
                for (int i = 0; i < m->n_slots; i++) {
                    if (m->slots[i].pid > 0)
                        bp_supervisor_kill(m, &m->slots[i], BP_KILL_SHUTDOWN,
                                           "still running after shutdown_timeout_ms = %d",
                                           m->cfg->pool.shutdown_timeout_ms);
                }
            }
            if (bp_supervisor_alive(m) == 0) {
                bp_master_redis_tick(m);
                bp_housekeeping_flush(m, true);
                break;
            }
        }
        bp_master_redis_tick(m);
        bp_health_tick(m);
        bp_housekeeping_tick(m);
        bp_supervisor_tick(m);
        bp_supervisor_spawn_due(m);
        maybe_log_ready(m);
        periodic(m);
    }
}

/* Pidfile, daemon, metrics endpoint, privilege drop: everything between the parse and the
 * first fork. 0, or -1 with err. */
static int start_process(bp_master *m, const bp_run_options *opts, bp_err *err)
{
    const char *pidpath = opts->pidfile != NULL ? opts->pidfile : m->cfg->pool.pidfile;
    bp_pidfile *pf = NULL;

    m->metrics = bp_metrics_new();
    if (m->metrics == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory");
        return -1;
    }
    if (pidpath != NULL && bp_pidfile_open(&pf, pidpath, err) != 0)
        return -1;
    m->pidfile = pf;
    if (opts->daemonize && bp_daemonize(&m->ready_fd, err) != 0)
        return -1;
    if (pf != NULL && bp_pidfile_write(pf, getpid(), err) != 0)
        return -1;
    if (m->cfg->metrics.listen != NULL &&
        bp_metrics_start(m->metrics, m->cfg->metrics.listen, err) != 0) {
        bp_err_prefix(err, "metrics.listen '%s' in %s", m->cfg->metrics.listen, m->cfg->path);
        return -1;
    }
    if (m->cfg->metrics.listen != NULL)
        bp_log_info("metrics on http://%s/metrics", m->cfg->metrics.listen);
    if (bp_drop_privileges(m->cfg->pool.user, m->cfg->pool.group, err) != 0)
        return -1;
    m->watchdog_ms = bp_notify_watchdog_interval_ms();
    return 0;
}

/* Say at start which files document jobs may read: a pool upgraded from a version without
 * allowed_dirs refuses path jobs until it is set, and the log should say why at once. */
static void log_allowed_dirs(const bp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_queues; i++) {
        for (size_t j = 0; j < cfg->queues[i].n_handlers; j++) {
            const bp_handler_config *h = &cfg->queues[i].handlers[j];
            if (h->type != BP_HANDLER_DOCUMENT)
                continue;
            if (h->n_allowed_dirs == 0)
                bp_log_notice("queue '%s', document handler for job \"%s\" (line %d): no "
                              "allowed_dirs, so jobs naming a file are refused (text jobs run)",
                              cfg->queues[i].name, h->job, h->line);
            else
                bp_log_info("queue '%s', document handler for job \"%s\": files are read "
                            "beneath %zu allowed_dirs only (first: %s)",
                            cfg->queues[i].name, h->job, h->n_allowed_dirs, h->allowed_dirs[0]);
        }
    }
}

int bp_master_run(const bp_run_options *opts)
{
    bp_master m;
    generation g;
    bp_err err;
    int sig_fd;

    memset(&m, 0, sizeof(m));
    m.opts = opts;
    m.exit_code = 0;
    bp_log_set_role("master");
    if (generation_load(&g, opts->config_path, opts->workers_override, &err) != 0) {
        bp_log_error("%s", err.msg);
        return bp_err_exit_code(&err) == EX_SOFTWARE ? EX_CONFIG : bp_err_exit_code(&err);
    }
    generation_swap(&m, &g);
    m.ready_fd = -1;
    m.started_mono = bp_mono_ms();
    if (opts->daemonize && m.cfg->log.file == NULL && !m.cfg->log.syslog) {
        fputs("bullpen: -d without log.file: logging to syslog (daemon facility)\n", stderr);
        bp_log_open(m.cfg->log.level, NULL, true, m.cfg->log.format);
    } else {
        open_log(m.cfg);
    }
    if (start_process(&m, opts, &err) != 0) {
        int code = err.kind == BP_ERR_CONFIG ? EX_CONFIG : EX_CANTCREAT;
        bp_log_error("%s", err.msg);
        bp_daemon_fail(m.ready_fd, code, err.msg);
        bp_metrics_free(m.metrics);
        bp_pidfile_close_remove(m.pidfile);
        generation_swap(&m, &g);
        generation_free(&g);
        return code;
    }
    bp_log_info("configuration read from %s", m.cfg->path);
    if (m.tls != NULL)
        bp_log_info("TLS context built: CA %s, verification %s",
                    m.cfg->redis.tls.ca_file != NULL ? m.cfg->redis.tls.ca_file : "(system store)",
                    m.cfg->redis.tls.verify ? "on" : "OFF");
    if (m.cfg->pool.control_key == NULL)
        bp_log_notice("no pool.control_key_file: every bullpen ctl command will be refused");
    log_allowed_dirs(m.cfg);
    m.upgrade_from = opts->upgrade_from;
    if (gethostname(m.hostname, sizeof(m.hostname) - 1) != 0)
        snprintf(m.hostname, sizeof(m.hostname), "localhost");
    srandom((unsigned)(getpid() ^ bp_mono_us()));
    set_channels(&m);
    bp_backoff_init(&m.redis_backoff, 200, 10000, 0);
    if (pipe2(m.death_pipe, O_CLOEXEC) != 0) {
        bp_log_crit("cannot create the master pipe: %s", strerror(errno));
        generation_swap(&m, &g);
        generation_free(&g);
        return EX_OSERR;
    }
    sig_fd = bp_signals_install_master();
    bp_supervisor_init(&m);
    m.set_title = set_worker_title;
    bp_proctitle_set("bullpen: master [%zu queue%s, starting]", m.cfg->n_queues,
                     m.cfg->n_queues == 1 ? "" : "s");
    if (bp_master_redis_tick(&m) != 0 && m.redis_err.kind == BP_ERR_CONFIG) {
        /* TLS verification or AUTH refused: retrying cannot help */
        bp_log_crit("cannot start: %s", m.redis_err.msg);
        bp_daemon_fail(m.ready_fd, EX_CONFIG, m.redis_err.msg);
        m.exit_code = EX_CONFIG;
        goto out_stop;
    }
    if (m.client == NULL)
        bp_log_warn("starting without Redis: workers are started when it answers");
    m.breaker_open = m.client == NULL;

    master_loop(&m, sig_fd);
out_stop:
    bp_log_notice("stopped; the master sent %llu Redis commands", bp_conn_commands_sent());
    bp_metrics_free(m.metrics);
    bp_pidfile_close_remove(m.pidfile); /* PATH, or PATH.oldbin after an upgrade */
    bp_conn_close(m.client);
    bp_conn_close(m.sub);
    close(m.death_pipe[0]);
    close(m.death_pipe[1]);
    free(m.slots);
    free(m.recoveries);
    for (int i = 0; i < m.n_sweeps; i++)
        free(m.sweeps[i].cand);
    free(m.ctl_nonces);
    generation_swap(&m, &g);
    generation_free(&g);
    return m.exit_code;
}
