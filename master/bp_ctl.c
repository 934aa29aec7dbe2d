/* bp_ctl.c -- `bullpen ctl`: publish one signed command, gather the masters' replies.
 *
 * Order matters: the reply channel is SUBSCRIBEd (and confirmed) before the command is
 * PUBLISHed, so no reply can be missed. PUBLISH's integer reply is the number of masters
 * that received the command (only masters subscribe the control channel), which is how many
 * replies to wait for; the wait is bounded by BP_CTL_REPLY_WAIT_MS on the monotonic clock.
 * Output is sorted by host then pid, so it is stable from run to run. */
#include "bp_ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bp_cmd_queue.h"
#include "bp_conn.h"
#include "bp_ctl_msg.h"
#include "bp_time.h"
#include "bp_tls.h"
#include "bp_topology.h"

#define BP_CTL_MAX_REPLIES 1024 /* masters answering one command; more are counted, not kept */

typedef struct ctl_run {
    const bp_config *cfg;
    const char *host;   /* --host, NULL = all */
    bp_ctl_msg msg;     /* what was sent */
    bp_conn *sub;       /* reply channel subscriber */
    SSL_CTX *sub_tls;   /* its TLS context (NULL for plain transports) */
    bp_ctl_reply **got; /* replies received (owned) */
    size_t n_got;       /* entries in got */
    long long expected; /* PUBLISH's receiver count */
} ctl_run;

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("bullpen ctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage: bullpen ctl -c FILE [--host H] status|pause|resume|scale N|reload|shutdown|"
          "cancel ID\n",
          stderr);
}

/* Check the positional arguments; store the command and its argument. */
static int parse_args(int argc, char **argv, bp_ctl_cmd *cmd, const char **arg)
{
    int want;

    if (argc < 1) {
        usage_error("%s", "which command? status, pause, resume, scale N, reload, shutdown or "
                          "cancel ID");
        return -1;
    }
    if (bp_ctl_cmd_parse(argv[0], cmd) != 0) {
        usage_error("unknown command '%s'", argv[0]);
        return -1;
    }
    want = (*cmd == BP_CTL_SCALE || *cmd == BP_CTL_CANCEL) ? 2 : 1;
    if (argc != want) {
        if (*cmd == BP_CTL_SCALE)
            usage_error("scale needs the number of workers, e.g. 'scale 8' or "
                        "'scale document-processing=8'");
        else if (*cmd == BP_CTL_CANCEL)
            usage_error("cancel needs a job id, e.g. 'cancel 812'");
        else
            usage_error("%s takes no argument", argv[0]);
        return -1;
    }
    *arg = want == 2 ? argv[1] : "";
    return 0;
}

static int cmp_reply(const void *a, const void *b)
{
    const bp_ctl_reply *x = *(bp_ctl_reply *const *)a;
    const bp_ctl_reply *y = *(bp_ctl_reply *const *)b;
    int c = strcmp(x->host, y->host);

    return c != 0 ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

/* One PUBLISH of the signed text on a short-lived connection. Returns 0, or a sysexits code
 * after printing why. */
static int publish(ctl_run *run, const char *text)
{
    const char *channel = run->cfg->pool.control_channel != NULL ? run->cfg->pool.control_channel
                                                                 : BP_CTL_DEFAULT_CHANNEL;
    bp_conn *pub = NULL;
    SSL_CTX *tls = NULL;
    redisReply *r;
    bp_err err;

    if (bp_cmd_connect(run->cfg, "ctl", &pub, &tls, &err) != 0) {
        fprintf(stderr, "bullpen ctl: cannot connect to %s: %s\n",
                BP_TOPOLOGY_DESC(&run->cfg->redis), err.msg);
        return bp_err_exit_code(&err);
    }
    r = bp_conn_command(pub, &err, "PUBLISH %s %s", channel, text);
    bp_conn_close(pub);
    bp_tls_ctx_free(tls);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        fprintf(stderr, "bullpen ctl: PUBLISH on '%s' failed: %s\n", channel,
                r == NULL ? err.msg : "unexpected reply");
        freeReplyObject(r);
        return EX_UNAVAILABLE;
    }
    run->expected = r->integer;
    freeReplyObject(r);
    if (run->expected == 0) {
        fprintf(stderr,
                "bullpen ctl: no master is listening on '%s' at %s; is bullpen running against "
                "this Redis with the same pool.control_channel?\n",
                channel, BP_TOPOLOGY_DESC(&run->cfg->redis));
        return EX_UNAVAILABLE;
    }
    return 0;
}

/* SUBSCRIBE the reply channel and wait for its confirmation. */
static int subscribe(ctl_run *run)
{
    redisReply *r;
    bp_err err;

    if (bp_cmd_connect(run->cfg, "ctl-subscriber", &run->sub, &run->sub_tls, &err) != 0) {
        fprintf(stderr, "bullpen ctl: cannot connect to %s: %s\n",
                BP_TOPOLOGY_DESC(&run->cfg->redis), err.msg);
        return bp_err_exit_code(&err);
    }
    r = bp_conn_command(run->sub, &err, "SUBSCRIBE %s", run->msg.reply);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
        fprintf(stderr, "bullpen ctl: SUBSCRIBE '%s' failed: %s\n", run->msg.reply,
                r == NULL ? err.msg : "unexpected reply");
        freeReplyObject(r);
        return EX_UNAVAILABLE;
    }
    freeReplyObject(r);
    return 0;
}

/* Collect replies until `expected` arrived or the deadline passed. */
static void collect(ctl_run *run)
{
    int64_t deadline = bp_mono_ms() + BP_CTL_REPLY_WAIT_MS;
    size_t seen = 0;

    while ((long long)seen < run->expected) {
        int64_t left = deadline - bp_mono_ms();
        redisReply *r = NULL;
        bp_ctl_reply *rep;
        bp_err err;

        if (left <= 0)
            break;
        if (bp_conn_read_reply(run->sub, &r, (int)left, -1, &err) != 0)
            break; /* timeout or a broken connection: report what we have */
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            strcmp(r->element[0]->str, "message") != 0 ||
            r->element[2]->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            continue;
        }
        rep = bp_ctl_reply_parse(r->element[2]->str, &err);
        freeReplyObject(r);
        if (rep == NULL) {
            fprintf(stderr, "bullpen ctl: %s\n", err.msg);
            continue;
        }
        seen++;
        if (run->n_got < BP_CTL_MAX_REPLIES) {
            bp_ctl_reply **grown = realloc(run->got, (run->n_got + 1) * sizeof(*grown));
            if (grown != NULL) {
                run->got = grown;
                run->got[run->n_got++] = rep;
                continue;
            }
        }
        bp_ctl_reply_free(rep);
    }
}

/* "10.0 MiB", "512 KiB" */
static void fmt_rss(long long kb, char *buf, size_t cap)
{
    if (kb <= 0)
        snprintf(buf, cap, "-");
    else if (kb >= 1024)
        snprintf(buf, cap, "%.1f MiB", (double)kb / 1024.0);
    else
        snprintf(buf, cap, "%lld KiB", kb);
}

/* "3.2s", "4m05s", "-" */
static void fmt_age(int64_t since_ms, int64_t now_ms, char *buf, size_t cap)
{
    int64_t age = now_ms - since_ms;

    if (since_ms <= 0 || age < 0)
        snprintf(buf, cap, "-");
    else if (age < 60000)
        snprintf(buf, cap, "%.1fs", (double)age / 1000.0);
    else if (age < 3600000)
        snprintf(buf, cap, "%lldm%02llds", (long long)(age / 60000),
                 (long long)(age % 60000 / 1000));
    else
        snprintf(buf, cap, "%lldh%02lldm", (long long)(age / 3600000),
                 (long long)(age % 3600000 / 60000));
}

static void print_status(const bp_ctl_reply *rep)
{
    int64_t now = bp_now_ms();

    fprintf(stdout, "%s  master pid %ld  %s%s%s\n", rep->host, (long)rep->pid,
            rep->ok ? "ok" : "FAILED", rep->message[0] != '\0' ? ": " : "", rep->message);
    if (rep->n_workers == 0) {
        fprintf(stdout, "  (no workers)\n");
        return;
    }
    fprintf(stdout, "  %5s  %-8s  %-24s  %-9s  %-12s  %9s  %10s  %8s\n", "INDEX", "PID", "QUEUE",
            "STATE", "JOB", "JOBS DONE", "RSS", "FOR");
    for (size_t i = 0; i < rep->n_workers; i++) {
        const bp_ctl_worker *w = &rep->workers[i];
        char rss[32], age[32];

        fmt_rss(w->rss_kb, rss, sizeof(rss));
        fmt_age(w->since_ms, now, age, sizeof(age));
        fprintf(stdout, "  %5d  %-8ld  %-24s  %-9s  %-12s  %9lld  %10s  %8s\n", w->index,
                (long)w->pid, w->queue, w->state, w->job[0] != '\0' ? w->job : "-", w->jobs_done,
                rss, age);
    }
}

/* Print every reply and decide the exit code. */
static int report(ctl_run *run)
{
    size_t skipped = 0, failed = 0, acted = 0, from_host = 0;
    long long missing = run->expected - (long long)run->n_got;
    const char *cmd = bp_ctl_cmd_name(run->msg.cmd);

    if (run->n_got > 1)
        qsort(run->got, run->n_got, sizeof(*run->got), cmp_reply);
    for (size_t i = 0; i < run->n_got; i++) {
        const bp_ctl_reply *rep = run->got[i];

        if (run->host != NULL && strcmp(rep->host, run->host) == 0)
            from_host++;
        if (rep->skipped) {
            skipped++;
            continue;
        }
        acted++;
        if (!rep->ok)
            failed++;
        if (run->msg.cmd == BP_CTL_STATUS && rep->has_workers)
            print_status(rep);
        else
            fprintf(stdout, "%s  master pid %ld  %s%s%s\n", rep->host, (long)rep->pid,
                    rep->ok ? "ok" : "FAILED", rep->message[0] != '\0' ? ": " : "", rep->message);
    }
    fflush(stdout);

    if (failed > 0) {
        fprintf(stderr, "bullpen ctl: %s failed on %zu of %zu masters\n", cmd, failed, acted);
        return 1;
    }
    if (run->host != NULL) {
        if (from_host == 0) {
            fprintf(stderr,
                    "bullpen ctl: no master on host '%s' answered within %d s (%lld masters "
                    "listening, %zu answered); check the name with 'bullpen ctl status'\n",
                    run->host, BP_CTL_REPLY_WAIT_MS / 1000, run->expected, run->n_got);
            return EX_TEMPFAIL;
        }
        return 0; /* masters elsewhere that stayed silent were not addressed */
    }
    if (missing > 0) {
        fprintf(stderr,
                "bullpen ctl: %lld of %lld masters did not answer %s within %d s; see their "
                "logs (a master ignores commands it cannot verify)\n",
                missing, run->expected, cmd, BP_CTL_REPLY_WAIT_MS / 1000);
        return EX_TEMPFAIL;
    }
    if (run->msg.cmd == BP_CTL_CANCEL && acted == 0) {
        fprintf(stderr, "bullpen ctl: no master is running job %s\n", run->msg.arg);
        return 1;
    }
    return 0;
}

int bp_ctl_run(const bp_config *cfg, const char *host, int argc, char **argv)
{
    ctl_run run;
    bp_ctl_cmd cmd;
    const char *arg = NULL;
    char *text = NULL;
    bp_err err;
    int rc;

    memset(&run, 0, sizeof(run));
    run.cfg = cfg;
    run.host = host != NULL && host[0] != '\0' ? host : NULL;
    if (parse_args(argc, argv, &cmd, &arg) != 0)
        return EX_USAGE;
    if (cfg->pool.control_key == NULL || cfg->pool.control_key_len == 0) {
        fprintf(stderr,
                "bullpen ctl: no control key in %s; set pool.control_key_file to a file holding "
                "a shared secret, the same on every host (e.g. openssl rand -hex 32 > "
                "/etc/bullpen/control.key), and restart the masters\n",
                cfg->path != NULL ? cfg->path : "the configuration");
        return EX_CONFIG;
    }
    if (bp_ctl_msg_init(&run.msg, cmd, arg, run.host, cfg->pool.control_channel, bp_now_ms(),
                        &err) != 0) {
        usage_error("%s", err.msg);
        return EX_USAGE;
    }
    text = bp_ctl_msg_sign(cfg->pool.control_key, cfg->pool.control_key_len, &run.msg, &err);
    if (text == NULL) {
        fprintf(stderr, "bullpen ctl: %s\n", err.msg);
        return EX_SOFTWARE;
    }
    rc = subscribe(&run);
    if (rc == 0)
        rc = publish(&run, text);
    if (rc == 0) {
        collect(&run);
        rc = report(&run);
    }

    free(text);
    for (size_t i = 0; i < run.n_got; i++)
        bp_ctl_reply_free(run.got[i]);
    free(run.got);
    bp_conn_close(run.sub);
    bp_tls_ctx_free(run.sub_tls);
    return rc;
}
