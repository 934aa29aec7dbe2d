/* bp_supervisor.c -- the process table: fork workers, reap them, respawn them, scale,
 * retire and kill.
 *
 * Invariants: a slot is in_use while the pool wants a worker there (running, or waiting for
 * its respawn time); pid != 0 only while the process lives. Nothing is respawned while the
 * pool stops, after a worker exited 78 (the configuration must be fixed), or while the
 * circuit breaker is open (Redis unreachable). A death soon after start backs off per slot
 * with full jitter, so a crash loop costs little and never storms Redis. No connection
 * crosses fork(): the child abandons the master's (closes the fds, sends nothing). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "bp_log.h"
#include "bp_master.h"
#include "bp_metrics.h"
#include "bp_pidfile.h"
#include "bp_signals.h"
#include "bp_topology.h"

#define BP_RESPAWN_BASE_MS     100   /* first respawn after a quick death within 0.1 s */
#define BP_RESPAWN_MAX_MS      30000 /* a crash-looping slot forks at most every 30 s */
#define BP_QUICK_DEATH_MS      5000  /* dying sooner than this after fork is a "quick death" */
#define BP_SPAWNS_PER_TICK     4     /* staggered start: at most this many forks per tick */
#define BP_BREAKER_START_FAILS 3     /* workers exiting 75 at start before the breaker opens */
#define BP_FREE_QUICK_DEATHS   3     /* outside kills soon after start replaced at once, in a row */

void bp_supervisor_init(bp_master *m)
{
    m->slots = NULL;
    m->n_slots = 0;
    m->next_index = 0;
}

int bp_supervisor_alive(const bp_master *m)
{
    int n = 0;

    for (int i = 0; i < m->n_slots; i++)
        n += m->slots[i].pid > 0;
    return n;
}

bp_slot *bp_supervisor_find_pid(bp_master *m, pid_t pid)
{
    for (int i = 0; i < m->n_slots; i++) {
        if (m->slots[i].pid == pid)
            return &m->slots[i];
    }
    return NULL;
}

static bp_slot *new_slot(bp_master *m, int queue_idx)
{
    bp_slot *s = NULL;
    const bp_queue_config *qc = &m->cfg->queues[queue_idx];

    for (int i = 0; i < m->n_slots; i++) {
        if (!m->slots[i].in_use && m->slots[i].pid == 0) {
            s = &m->slots[i];
            if (s->shared != NULL)
                munmap(s->shared, sizeof(*s->shared));
            break;
        }
    }
    if (s == NULL) {
        bp_slot *grown = realloc(m->slots, sizeof(*grown) * (size_t)(m->n_slots + 1));
        if (grown == NULL)
            return NULL;
        m->slots = grown;
        s = &m->slots[m->n_slots++];
    }
    memset(s, 0, sizeof(*s));
    s->link.master_fd = s->link.worker_fd = -1;
    s->in_use = 1;
    s->queue_idx = queue_idx;
    s->index = m->next_index++;
    s->generation = m->generation;
    bp_backoff_init(&s->backoff, BP_RESPAWN_BASE_MS, BP_RESPAWN_MAX_MS, 0);
    bp_queue_init(&s->q, qc->prefix, qc->name, NULL, qc->lock_duration_ms, qc->stalled_interval_ms,
                  qc->max_stalled);
    bp_queue_set_limits(&s->q, qc->limiter.max, qc->limiter.duration_ms, qc->limiter.group_key,
                        qc->metrics_max_points, qc->log_max_lines, qc->log_max_line_bytes);
    if (m->cfg->pool.max_jobs_per_worker >
        0) /* jitter up to 10% so they do not all recycle at once */
        s->recycle_after = m->cfg->pool.max_jobs_per_worker +
                           (int)(random() % (m->cfg->pool.max_jobs_per_worker / 10 + 1));
    return s;
}

/* In the child, between fork() and bp_worker_main(): only async-signal-safe-ish resets. */
static void become_worker(bp_master *m, bp_slot *s, const sigset_t *oldmask)
{
    bp_worker_spec spec;
    pid_t master_pid = getppid();
    int rc;

    bp_signals_reset_child();
    setpgid(0, 0); /* its own process group: a timeout kill takes everything it started */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master_pid)
        _exit(0); /* the master died between fork and prctl */
    close(m->death_pipe[1]);
    for (int i = 0; i < m->n_slots; i++) /* other workers' links are the master's alone */
        if (&m->slots[i] != s)
            bp_worker_link_close(&m->slots[i].link);
    bp_worker_link_keep_worker(&s->link);
    bp_conn_abandon(m->client); /* no close_notify: the master's session must not break */
    bp_conn_abandon(m->sub);
    m->client = m->sub = NULL;
    bp_master_child_cleanup(m);
    bp_signals_restore(oldmask);

    memset(&spec, 0, sizeof(spec));
    spec.cfg = m->cfg;
    spec.queue = &m->cfg->queues[s->queue_idx];
    spec.handlers = m->handlers[s->queue_idx];
    spec.tls_ctx = m->tls;
    spec.index = s->index;
    snprintf(spec.token, sizeof(spec.token), "%s", s->q.token);
    snprintf(spec.hostname, sizeof(spec.hostname), "%s", m->hostname);
    spec.master_pid = master_pid;
    spec.master_pipe_fd = m->death_pipe[0];
    spec.link_fd = s->link.worker_fd;
    spec.shared = s->shared;
    snprintf(spec.to_worker_channel, sizeof(spec.to_worker_channel), "%s", m->to_worker_channel);
    snprintf(spec.heartbeat_channel, sizeof(spec.heartbeat_channel), "%s", m->heartbeat_channel);
    spec.start_paused = m->quiet;
    spec.set_title = m->set_title;
    rc = bp_worker_main(&spec);
    exit(rc); /* one exit path, so LeakSanitizer checks workers too */
}

static int spawn(bp_master *m, bp_slot *s)
{
    sigset_t oldmask;
    bp_err err;
    pid_t pid;

    /* a fresh lock token per process: a recovery of the dead predecessor that runs later
     * (grace, outage) must never find the jobs its successor took */
    bp_uuid4(s->q.token);
    if (s->shared == NULL) {
        void *page = mmap(NULL, sizeof(*s->shared), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        s->shared = page != MAP_FAILED ? page : NULL; /* without: a death stalls its lease */
    }
    if (s->shared != NULL)
        s->shared->running[0] = '\0';
    bp_worker_link_close(&s->link);
    if (bp_worker_link_open(&s->link, &err) != 0) /* the pool runs without: recovery sweeps */
        bp_log_warn("worker %d: %s; its Redis connections cannot be closed at its death", s->index,
                    err.msg);
    s->n_conn_ids = 0;
    fflush(NULL);
    bp_signals_block(&oldmask);
    pid = fork();
    if (pid == 0)
        become_worker(m, s, &oldmask);
    bp_signals_restore(&oldmask);
    bp_worker_link_keep_master(&s->link);
    if (pid < 0) {
        bp_worker_link_close(&s->link);
        bp_log_error("cannot fork worker %d: %s; retrying", s->index, strerror(errno));
        s->respawn_at_mono = bp_mono_ms() + bp_backoff_next(&s->backoff);
        return -1;
    }
    setpgid(pid, pid); /* also here, so a kill of the group right away cannot miss */
    s->pid = pid;
    s->block_timeout_s = m->cfg->queues[s->queue_idx].block_timeout_s;
    s->lease_max = m->cfg->queues[s->queue_idx].lease_max;
    s->echo_seq = 0;
    s->sub_count = 0;
    s->cmds = 0;
    s->spawned_mono = bp_mono_ms();
    s->last_hb_mono = 0;
    s->connected = 0;
    s->ping_seq = 0;
    s->seq_at_spawn = m->ping_seq;
    s->kill_cause = BP_KILL_NONE;
    s->kill_reason[0] = '\0';
    s->soft_signal_mono = 0;
    s->job[0] = '\0';
    s->jobs_done = s->jobs_failed = s->jobs_us = 0;
    snprintf(s->state, sizeof(s->state), "starting");
    bp_housekeeping_register(m, s);
    bp_log_debug("forked worker %d (pid %ld) for '%s'", s->index, (long)pid, s->q.name);
    return 0;
}

/* Workers of queue qi that count towards want: this generation's, plus older ones of the
 * same queue not yet retired (a reload replaces them one at a time). */
static int counted(const bp_master *m, int qi)
{
    int n = 0;

    for (int i = 0; i < m->n_slots; i++) {
        const bp_slot *s = &m->slots[i];
        if (!s->in_use || s->retiring)
            continue;
        if (s->generation == m->generation ? s->queue_idx == qi
                                           : strcmp(s->q.name, m->cfg->queues[qi].name) == 0)
            n++;
    }
    return n;
}

void bp_supervisor_retire(bp_slot *s, const char *why)
{
    if (s->retiring)
        return;
    s->retiring = 1;
    s->term_mono = bp_mono_ms();
    if (s->pid > 0) {
        bp_log_info("worker %d (pid %ld): %s; stopping it after its job", s->index, (long)s->pid,
                    why);
        kill(s->pid, SIGTERM);
    } else {
        s->in_use = 0; /* waiting for a respawn: simply forget it */
    }
}

/* Retire one worker of queue qi: a slot not running first (waiting for its respawn: it
 * costs nothing), then an idle one, else the youngest. */
static void retire_one(bp_master *m, int qi, const char *why)
{
    bp_slot *pick = NULL;

    for (int i = 0; i < m->n_slots; i++) {
        bp_slot *s = &m->slots[i];
        if (s->in_use && !s->retiring && s->generation == m->generation && s->queue_idx == qi &&
            s->pid == 0) {
            bp_supervisor_retire(s, why);
            return;
        }
    }
    for (int i = 0; i < m->n_slots; i++) {
        bp_slot *s = &m->slots[i];
        if (!s->in_use || s->retiring || s->generation != m->generation || s->queue_idx != qi)
            continue;
        if (strcmp(s->state, "idle") == 0 || strcmp(s->state, "paused") == 0) {
            pick = s;
            break;
        }
        if (pick == NULL || s->spawned_mono > pick->spawned_mono)
            pick = s;
    }
    if (pick != NULL)
        bp_supervisor_retire(pick, why);
}

void bp_supervisor_scale(bp_master *m, int queue_idx, int n)
{
    if (queue_idx < 0 || (size_t)queue_idx >= m->cfg->n_queues || n < 0)
        return;
    bp_log_notice("scaling '%s' from %d to %d workers", m->cfg->queues[queue_idx].name,
                  m->want[queue_idx], n);
    m->want[queue_idx] = n;
    m->ready_logged = 0;
}

void bp_supervisor_spawn_due(bp_master *m)
{
    int64_t now = bp_mono_ms();
    int budget = BP_SPAWNS_PER_TICK;
    bool watcher_paused = false;

    if (m->stopping || m->halted)
        return;
    for (size_t qi = 0; qi < m->cfg->n_queues; qi++) {
        int have = counted(m, (int)qi);
        while (have > m->want[qi]) {
            retire_one(m, (int)qi, "the pool is smaller now");
            have--;
        }
        for (; have < m->want[qi]; have++) {
            if (new_slot(m, (int)qi) == NULL)
                break;
        }
    }
    if (m->breaker_open)
        return;
    for (int i = 0; i < m->n_slots && budget > 0; i++) {
        bp_slot *s = &m->slots[i];
        if (s->in_use && !s->retiring && s->pid == 0 && s->generation == m->generation &&
            s->respawn_at_mono <= now) {
            if (!watcher_paused) /* once per batch of forks: see bp_topology.h */
                bp_topology_watch_pause();
            watcher_paused = true;
            if (spawn(m, s) == 0)
                budget--;
        }
    }
    if (watcher_paused)
        bp_topology_watch_resume();
}

static void describe_status(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by SIG%s%s",
                 sigabbrev_np(WTERMSIG(status)) != NULL ? sigabbrev_np(WTERMSIG(status)) : "?",
                 WCOREDUMP(status) ? " (core dumped)" : "");
    else
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
}

/* A quick death that a respawn would only repeat: it never got its connections up, exited
 * with an error, or crashed by itself. An outside SIGKILL or TERM of a connected worker is
 * not one (an operator or a chaos test): that worker is replaced at once. */
static bool looks_like_crash_loop(const bp_slot *s, int status)
{
    if (!s->connected)
        return true;
    if (WIFEXITED(status))
        return WEXITSTATUS(status) != 0;
    switch (WTERMSIG(status)) {
    case SIGSEGV:
    case SIGBUS:
    case SIGABRT:
    case SIGILL:
    case SIGFPE:
        return true;
    default:
        return false;
    }
}

/* One message from a worker's link. */
static void on_link_message(bp_master *m, bp_slot *s, const bp_link_msg *msg)
{
    if (strcmp(msg->kind, "hb") == 0) {
        bp_health_on_link_heartbeat(m, s, msg->payload);
    } else if (strcmp(msg->kind, "conn") == 0) {
        char role[32], node[BP_CONN_NODE_MAX] = "";
        long long id;
        /* "<role> <id> <host:port>"; a node too long to keep is never matched, so never
         * killed on a guess (299: BP_CONN_NODE_MAX - 1) */
        if (sscanf(msg->payload, "%31s %lld %299s", role, &id, node) < 2 || id < 0)
            return;
        if (s->n_conn_ids == BP_SLOT_CONN_IDS) { /* keep the newest: the old ones are closed */
            memmove(&s->conn_ids[0], &s->conn_ids[1],
                    sizeof(s->conn_ids[0]) * (BP_SLOT_CONN_IDS - 1));
            s->n_conn_ids--;
        }
        s->conn_ids[s->n_conn_ids].id = id;
        snprintf(s->conn_ids[s->n_conn_ids].node, BP_CONN_NODE_MAX, "%s", node);
        s->n_conn_ids++;
        bp_log_debug("worker %d (pid %ld): %s connection is Redis client %lld on %s", s->index,
                     (long)s->pid, role, id, node);
    } else {
        bp_log_debug("worker %d (pid %ld): unknown link message '%s'", s->index, (long)s->pid,
                     msg->kind);
    }
}

/* Every message queued on s's link. */
static void read_link(bp_master *m, bp_slot *s)
{
    bp_link_msg msg;
    int rc;

    while (s->link.master_fd >= 0 && (rc = bp_worker_link_recv(s->link.master_fd, &msg)) != 0) {
        if (rc < 0) { /* the worker closed it (it is exiting): nothing more will come */
            bp_worker_link_close(&s->link);
            return;
        }
        on_link_message(m, s, &msg);
    }
}

void bp_supervisor_read_links(bp_master *m)
{
    for (int i = 0; i < m->n_slots; i++)
        if (m->slots[i].pid > 0)
            read_link(m, &m->slots[i]);
}

int bp_supervisor_poll_fds(const bp_master *m, struct pollfd *p, int cap)
{
    int n = 0;

    for (int i = 0; i < m->n_slots && n < cap; i++) {
        if (m->slots[i].pid > 0 && m->slots[i].link.master_fd >= 0) {
            p[n].fd = m->slots[i].link.master_fd;
            p[n].events = POLLIN;
            p[n].revents = 0;
            n++;
        }
    }
    return n;
}

static void on_worker_exit(bp_master *m, bp_slot *s, int status, const struct rusage *ru)
{
    char how[96];
    char reason[512];
    int64_t lived = bp_mono_ms() - s->spawned_mono;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    read_link(m, s); /* what it said before it died: the connection ids recovery kills */
    bp_worker_link_close(&s->link);
    describe_status(status, how, sizeof(how));
    if (s->kill_cause == BP_KILL_NONE && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        snprintf(how + strlen(how), sizeof(how) - strlen(how),
                 " (not sent by bullpen: the OOM killer, or an operator?)");
    snprintf(reason, sizeof(reason), "worker %d (pid %ld) %s%s%s", s->index, (long)s->pid, how,
             s->kill_reason[0] != '\0' ? ": " : "", s->kill_reason);
    if (clean && s->retiring)
        bp_log_info("%s after %lld ms; max RSS %ld kB", reason, (long long)lived, ru->ru_maxrss);
    else
        bp_log_warn("%s%s%s; max RSS %ld kB", reason,
                    s->job[0] != '\0' ? "; its last heartbeat showed job " : "", s->job,
                    ru->ru_maxrss);
    if (!clean)
        bp_housekeeping_recover(m, s, reason, s->kill_cause == BP_KILL_TIMEOUT,
                                s->kill_cause == BP_KILL_NONE);
    else
        bp_housekeeping_unregister(m, s);

    if (WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG && !m->halted) {
        m->halted = 1;
        m->exit_code = EX_CONFIG;
        bp_log_crit("worker %d exited 78: the configuration is wrong (see its message above); "
                    "not respawning -- fix %s and start again",
                    s->index, m->cfg->path);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == EX_TEMPFAIL && !s->connected) {
        if (++m->start_failures >= BP_BREAKER_START_FAILS && !m->breaker_open) {
            m->breaker_open = 1;
            bp_log_error("Redis at %s is unreachable for new workers: pausing respawns until it "
                         "answers the master again",
                         BP_TOPOLOGY_DESC(&m->cfg->redis));
        }
    } else if (s->connected) {
        m->start_failures = 0;
    }
    s->pid = 0;
    s->job[0] = '\0';
    if (s->retiring || m->stopping || s->generation != m->generation) {
        s->in_use = 0;
        return;
    }
    bp_metrics_count_respawn(m->metrics, WIFSIGNALED(status) && sigabbrev_np(WTERMSIG(status))
                                             ? sigabbrev_np(WTERMSIG(status))
                                             : "exit");
    if (lived < BP_QUICK_DEATH_MS &&
        (looks_like_crash_loop(s, status) || ++s->quick_deaths > BP_FREE_QUICK_DEATHS)) {
        s->respawn_at_mono = bp_mono_ms() + bp_backoff_next(&s->backoff);
    } else if (lived < BP_QUICK_DEATH_MS) {
        s->respawn_at_mono = bp_mono_ms(); /* killed from outside: replace it at once */
    } else {
        s->quick_deaths = 0;
        bp_backoff_reset(&s->backoff);
        s->respawn_at_mono = bp_mono_ms();
    }
}

void bp_supervisor_reap(bp_master *m)
{
    struct rusage ru;
    int status;
    pid_t pid;

    while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
        bp_slot *s = bp_supervisor_find_pid(m, pid);
        if (s != NULL) {
            on_worker_exit(m, s, status, &ru);
        } else if (pid == m->upgrade_child) {
            char how[96];
            bp_err err;
            describe_status(status, how, sizeof(how));
            m->upgrade_child = 0;
            if (m->stopping || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
                continue; /* it took over (or daemonized and said it is ready): as planned */
            bp_log_error("the new master (pid %ld) %s; this master keeps running", (long)pid, how);
            if (m->pidfile != NULL && bp_pidfile_rename_back(m->pidfile, &err) != 0)
                bp_log_error("cannot restore the pidfile: %s", err.msg);
        }
    }
}

void bp_supervisor_kill(bp_master *m, bp_slot *s, bp_kill_cause cause, const char *fmt, ...)
{
    va_list ap;

    if (s->pid <= 0 || s->kill_cause != BP_KILL_NONE)
        return;
    va_start(ap, fmt);
    vsnprintf(s->kill_reason, sizeof(s->kill_reason), fmt, ap);
    va_end(ap);
    s->kill_cause = cause;
    bp_metrics_count_kill(m->metrics, cause == BP_KILL_HUNG      ? "hung"
                                      : cause == BP_KILL_TIMEOUT ? "job_timeout"
                                                                 : "shutdown");
    bp_log_warn("worker %d (pid %ld): %s; killing it", s->index, (long)s->pid, s->kill_reason);
    kill(-s->pid, SIGKILL); /* its process group: what its handler started goes too */
    kill(s->pid, SIGKILL);
}

void bp_supervisor_signal_all(bp_master *m, int signo)
{
    for (int i = 0; i < m->n_slots; i++) {
        if (m->slots[i].pid > 0)
            kill(m->slots[i].pid, signo);
    }
}

void bp_supervisor_tick(bp_master *m)
{
    int64_t now = bp_mono_ms();
    int rolling = 0;
    int recycling = 0;

    for (int i = 0; i < m->n_slots; i++) {
        bp_slot *s = &m->slots[i];
        if (s->pid > 0 && s->retiring && s->generation != m->generation)
            rolling = 1;
        if (s->pid > 0 && s->retiring && s->generation == m->generation)
            recycling = 1;
    }
    for (int i = 0; i < m->n_slots; i++) {
        bp_slot *s = &m->slots[i];
        if (s->pid <= 0)
            continue;
        /* a TERM that was not obeyed in time */
        if (s->retiring && now - s->term_mono > m->cfg->pool.shutdown_timeout_ms)
            bp_supervisor_kill(m, s, BP_KILL_SHUTDOWN,
                               "still running %d ms after it was asked to stop",
                               m->cfg->pool.shutdown_timeout_ms);
        if (m->stopping)
            continue;
        /* a reload replaces the old generation one worker at a time */
        if (!s->retiring && s->generation != m->generation && !rolling) {
            bp_supervisor_retire(s, "reloaded configuration: replacing it");
            rolling = 1;
        }
        /* recycling: one at a time, never while it runs a job */
        if (!s->retiring && !recycling && s->connected && strcmp(s->state, "idle") == 0) {
            const bp_pool_config *p = &m->cfg->pool;
            char why[128] = "";
            if (s->recycle_after > 0 && s->jobs_done + s->jobs_failed >= s->recycle_after)
                snprintf(why, sizeof(why), "recycling after %lld jobs",
                         s->jobs_done + s->jobs_failed);
            else if (p->max_rss_mb > 0 && s->rss_kb > (long long)p->max_rss_mb * 1024)
                snprintf(why, sizeof(why), "recycling: RSS %lld kB over max_rss_mb = %d", s->rss_kb,
                         p->max_rss_mb);
            if (why[0] != '\0') {
                bp_supervisor_retire(s, why);
                recycling = 1;
            }
        }
    }
}
