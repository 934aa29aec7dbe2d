/* bp_check.c -- the `bullpen check` preflight.
 *
 * It goes through the same code a running pool uses (bp_tls_ctx_new, bp_conn_open,
 * bp_scripts_load_all), so "check passed" means the pool's own connections will work.
 * Steps stop at the first failure that makes the next ones meaningless (no TLS context, no
 * connection); the INFO checks (role, eviction policy, connection budget) are all reported
 * before refusing. Every refusal is one line that names the cause and the fix, and the
 * exit code says which kind it was: 78 fix the configuration or the server's settings,
 * 69 Redis is unreachable. Nothing here writes to Redis except SCRIPT LOAD. */
#include "bp_check.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "bp_conn.h"
#include "bp_handler.h"
#include "bp_poppler.h"
#include "bp_scripts.h"
#include "bp_time.h"
#include "bp_tls.h"
#include "bp_topology.h"

#define BP_CHECK_PINGS            20 /* latency sample: enough for a p50, quick on a slow link */
#define BP_CHECK_CONNS_PER_WORKER 3  /* client, subscriber, bclient (DESIGN.md) */
#define BP_CHECK_CONNS_MASTER     2  /* the master's client and subscriber */

static bool is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Exit code for a failed connection step: only configuration problems are 78. */
static int check_exit_code(const bp_err *err)
{
    return err->kind == BP_ERR_CONFIG ? EX_CONFIG : EX_UNAVAILABLE;
}

static void check_describe_tls(const bp_tls_config *tc, FILE *out)
{
    fputs("ok      TLS context: ", out);
    if (is_set(tc->ca_file))
        fprintf(out, "CA file %s", tc->ca_file);
    if (is_set(tc->ca_dir))
        fprintf(out, "%sCA dir %s", is_set(tc->ca_file) ? ", " : "", tc->ca_dir);
    if (!is_set(tc->ca_file) && !is_set(tc->ca_dir))
        fputs("system CA store", out);
    if (is_set(tc->cert_file))
        fprintf(out, ", client certificate %s", tc->cert_file);
    fprintf(out, ", minimum %s, verification %s\n",
            tc->min_version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2", tc->verify ? "on" : "OFF");
    if (!tc->verify)
        fputs("warning TLS verification is off (redis.tls.verify = false): anyone on the path "
              "can impersonate Redis and read the jobs; set redis.tls.verify = true\n",
              out);
}

/* Copy the value of "key:" from an INFO text into buf. Returns false when absent. */
static bool info_field(const char *info, const char *key, char *buf, size_t n)
{
    size_t klen = strlen(key);

    for (const char *p = info; p != NULL && *p != '\0';) {
        const char *eol = strchr(p, '\n');

        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1;
            size_t len = strcspn(v, "\r\n");

            if (len >= n)
                len = n - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            return true;
        }
        p = eol != NULL ? eol + 1 : NULL;
    }
    return false;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int check_latency(bp_conn *c, FILE *out)
{
    int64_t us[BP_CHECK_PINGS];
    bp_err err = {0};

    for (int i = 0; i < BP_CHECK_PINGS; i++) {
        int64_t t0 = bp_mono_us();
        redisReply *r = bp_conn_command(c, &err, "PING");

        if (r == NULL) {
            fprintf(out, "refused latency sample: PING failed: %s\n", err.msg);
            return check_exit_code(&err);
        }
        freeReplyObject(r);
        us[i] = bp_mono_us() - t0;
    }
    qsort(us, BP_CHECK_PINGS, sizeof(us[0]), cmp_i64);
    fprintf(out, "ok      latency: %d PINGs, min %lld us, p50 %lld us, max %lld us\n",
            BP_CHECK_PINGS, (long long)us[0], (long long)us[BP_CHECK_PINGS / 2],
            (long long)us[BP_CHECK_PINGS - 1]);
    return 0;
}

/* maxclients from CONFIG GET, else from INFO clients (managed Redis often disables
 * CONFIG); -1 when neither says. */
static long check_maxclients(bp_conn *c, const char *info)
{
    bp_err err = {0};
    redisReply *r = bp_conn_command(c, &err, "CONFIG GET maxclients");
    char buf[32];
    long v = -1;

    if (r != NULL) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[1]->type == REDIS_REPLY_STRING)
            v = atol(r->element[1]->str);
        freeReplyObject(r);
    } else if (err.kind != BP_ERR_REPLY) {
        return -2; /* the connection broke */
    }
    if (v <= 0 && info_field(info, "maxclients", buf, sizeof(buf)))
        v = atol(buf);
    return v > 0 ? v : -1;
}

/* INFO: version, role, eviction policy, connection budget. */
static int check_info(const bp_config *cfg, bp_conn *c, FILE *out)
{
    bp_err err = {0};
    redisReply *r = bp_conn_command(c, &err, "INFO");
    char version[64] = "?", role[32] = "", policy[64] = "", connected[32] = "";
    int budget = bp_config_total_workers(cfg) * BP_CHECK_CONNS_PER_WORKER + BP_CHECK_CONNS_MASTER;
    int code = 0;
    long maxclients;

    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        if (r != NULL)
            freeReplyObject(r);
        fprintf(out,
                "refused cannot read INFO, so the eviction policy and role cannot be checked: "
                "%s; allow INFO for this Redis user\n",
                r != NULL ? "unexpected reply" : err.msg);
        return r == NULL && err.kind != BP_ERR_REPLY ? check_exit_code(&err) : EX_CONFIG;
    }
    info_field(r->str, "redis_version", version, sizeof(version));
    info_field(r->str, "role", role, sizeof(role));
    info_field(r->str, "maxmemory_policy", policy, sizeof(policy));
    info_field(r->str, "connected_clients", connected, sizeof(connected));
    fprintf(out, "ok      server: redis %s, role %s, maxmemory-policy %s\n", version,
            role[0] != '\0' ? role : "?", policy[0] != '\0' ? policy : "?");
    if (strcmp(role, "master") != 0) {
        fprintf(out,
                "refused the server's role is '%s', not master: a replica is read-only and "
                "cannot take jobs; point redis.url at the master\n",
                role[0] != '\0' ? role : "unknown");
        code = EX_CONFIG;
    }
    if (strcmp(policy, "noeviction") != 0) {
        fprintf(out,
                "refused maxmemory-policy is '%s': under memory pressure Redis would evict a "
                "job lock or job hash, which silently loses jobs; set maxmemory-policy "
                "noeviction on the server\n",
                policy[0] != '\0' ? policy : "unknown");
        code = EX_CONFIG;
    }
    maxclients = check_maxclients(c, r->str);
    freeReplyObject(r);
    if (maxclients == -2) {
        fputs("refused the connection broke during CONFIG GET maxclients\n", out);
        return EX_UNAVAILABLE;
    }
    if (maxclients < 0) {
        fprintf(out,
                "ok      connections: the pool needs %d (%d workers x %d + %d); maxclients "
                "unknown (CONFIG GET is not allowed here)\n",
                budget, bp_config_total_workers(cfg), BP_CHECK_CONNS_PER_WORKER,
                BP_CHECK_CONNS_MASTER);
    } else if (budget > maxclients) {
        fprintf(out,
                "refused connections: the pool needs %d (%d workers x %d + %d) but maxclients "
                "is %ld; lower the queues' workers or raise maxclients\n",
                budget, bp_config_total_workers(cfg), BP_CHECK_CONNS_PER_WORKER,
                BP_CHECK_CONNS_MASTER, maxclients);
        code = EX_CONFIG;
    } else {
        fprintf(out,
                "ok      connections: the pool needs %d (%d workers x %d + %d) of maxclients "
                "%ld (%s connected now)\n",
                budget, bp_config_total_workers(cfg), BP_CHECK_CONNS_PER_WORKER,
                BP_CHECK_CONNS_MASTER, maxclients, connected[0] != '\0' ? connected : "?");
        if (connected[0] != '\0' && atol(connected) + budget > maxclients)
            fprintf(out,
                    "warning with the %s clients already connected, maxclients %ld leaves less "
                    "than the %d the pool needs\n",
                    connected, maxclients, budget);
    }
    return code;
}

static int check_scripts(bp_conn *c, FILE *out)
{
    bp_err err = {0};
    size_t n = 0;

    while (bp_script_sources[n].name != NULL)
        n++;
    if (bp_scripts_load_all(c, &err) != 0) {
        bool denied = strstr(err.msg, "NOPERM") != NULL;

        fprintf(out, "refused %s%s\n", err.msg,
                denied ? "; allow SCRIPT, EVAL and EVALSHA for this Redis user" : "");
        if (err.kind == BP_ERR_REPLY)
            return denied ? EX_CONFIG : EX_SOFTWARE;
        return check_exit_code(&err);
    }
    fprintf(out, "ok      scripts: %zu loaded with SCRIPT LOAD\n", n);
    return 0;
}

static int check_connect(const bp_config *cfg, SSL_CTX *ctx, bp_conn **out_conn, FILE *out)
{
    const bp_redis_config *rc = &cfg->redis;
    bp_err err = {0};
    char host[128] = "?", name[256];
    int64_t t0 = bp_mono_us();

    gethostname(host, sizeof(host) - 1);
    snprintf(name, sizeof(name), "bullpen:%s:%ld:check", host, (long)getpid());
    if (bp_conn_open(out_conn, rc, ctx, name, &err) != 0) {
        fprintf(out, "refused %s\n", err.msg);
        return check_exit_code(&err);
    }
    fprintf(out, "ok      connected: %s (%.1f ms)\n", bp_conn_describe(*out_conn),
            (double)(bp_mono_us() - t0) / 1000.0);
    if (is_set(rc->password))
        fprintf(out, "ok      AUTH%s%s accepted\n", is_set(rc->username) ? " as " : "",
                is_set(rc->username) ? rc->username : "");
    else
        fputs("ok      no password configured (the server did not ask for one)\n", out);
    return 0;
}

/* Whether dir (stat'ed as droot) holds path: some parent directory of path's real location
 * is dir itself (same device and inode, so links and bind mounts cannot hide it). */
static bool dir_holds(const struct stat *droot, const char *path)
{
    char real[PATH_MAX];
    struct stat st;

    if (path == NULL || realpath(path, real) == NULL)
        return false;
    for (char *slash = strrchr(real, '/'); slash != NULL; slash = strrchr(real, '/')) {
        if (slash == real)
            slash[1] = '\0'; /* "/" itself */
        else
            *slash = '\0';
        if (stat(real, &st) == 0 && st.st_dev == droot->st_dev && st.st_ino == droot->st_ino)
            return true;
        if (slash == real)
            break;
    }
    return false;
}

/* Whether the kernel lets users hard-link files they cannot write (fs.protected_hardlinks
 * 0): a link beneath a root is the file itself, so openat2 cannot tell it from an upload. */
static bool hardlinks_unprotected(void)
{
    FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "re");
    int v = 1;

    if (f == NULL)
        return false; /* unknown: no warning */
    if (fscanf(f, "%d", &v) != 1)
        v = 1;
    fclose(f);
    return v == 0;
}

/* A document handler's allowed_dirs: the roots, and warnings for a root everyone can write
 * (anyone on the host can then plant a file or a link for a job), one that holds the
 * configuration or a secret bullpen reads (a job could read it back through Redis), and one
 * of the kernel's pseudo file systems. */
static void check_allowed_dirs(const bp_config *cfg, const bp_queue_config *q,
                               const bp_handler_config *h, FILE *out)
{
    const struct {
        const char *path, *what;
    } secrets[] = {
        {cfg->path, "the configuration file"},
        {cfg->redis.password_file, "redis.password_file"},
        {cfg->redis.tls.key_file, "redis.tls.key_file"},
        {cfg->pool.control_key_file, "pool.control_key_file"},
    };

    if (h->n_allowed_dirs == 0) {
        fprintf(out,
                "ok      allowed_dirs of '%s' job \"%s\" (line %d): none; jobs naming a file "
                "are refused, {\"text\"} jobs run\n",
                q->name, h->job, h->line);
        return;
    }
    fprintf(out, "ok      allowed_dirs of '%s' job \"%s\" (line %d):", q->name, h->job, h->line);
    for (size_t i = 0; i < h->n_allowed_dirs; i++)
        fprintf(out, "%s %s", i > 0 ? "," : "", h->allowed_dirs[i]);
    fputs(" (files opened beneath them only)\n", out);
    if (hardlinks_unprotected())
        fputs("warning fs.protected_hardlinks is 0: a user who can write to an allowed_dirs "
              "directory can hard-link a file there that only bullpen may read; set "
              "sysctl fs.protected_hardlinks=1\n",
              out);
    for (size_t i = 0; i < h->n_allowed_dirs; i++) {
        const char *d = h->allowed_dirs[i];
        struct stat st;

        if (stat(d, &st) != 0)
            continue; /* bp_handlers_new() reported it */
        if (st.st_mode & S_IWOTH)
            fprintf(out,
                    "warning allowed_dirs root %s is writable by every user (mode %04o): anyone "
                    "on this host can put a file or a link there for a job to read; give it to "
                    "the uploading user's group and chmod o-w\n",
                    d, (unsigned)(st.st_mode & 07777));
        for (size_t j = 0; j < sizeof(secrets) / sizeof(secrets[0]); j++)
            if (dir_holds(&st, secrets[j].path))
                fprintf(out,
                        "warning allowed_dirs root %s holds %s (%s): a job can read it and "
                        "its text lands in Redis; move it out or narrow allowed_dirs\n",
                        d, secrets[j].what, secrets[j].path);
        if (strcmp(d, "/") == 0 || strncmp(d, "/proc", 5) == 0 || strncmp(d, "/sys", 4) == 0 ||
            strncmp(d, "/dev", 4) == 0 || strncmp(d, "/etc", 4) == 0)
            fprintf(out,
                    "warning allowed_dirs root %s exposes system files to every job; list only "
                    "the directories uploads go to\n",
                    d);
    }
}

/* An exec handler whose env hands a Redis secret to its program: allowed, said aloud. */
static void check_exec_env(const bp_config *cfg, const bp_queue_config *q,
                           const bp_handler_config *h, FILE *out)
{
    for (size_t i = 0; i < h->n_env; i++) {
        size_t n = strcspn(h->env[i], "=");
        const char *url_env = cfg->redis.url_env;

        if ((n == 22 && strncmp(h->env[i], "BULLPEN_REDIS_PASSWORD", n) == 0) ||
            (n == 17 && strncmp(h->env[i], "BULLPEN_REDIS_URL", n) == 0) ||
            (url_env != NULL && strlen(url_env) == n && strncmp(h->env[i], url_env, n) == 0))
            fprintf(out,
                    "warning exec handler of '%s' job \"%s\" (line %d) passes %.*s to its "
                    "program (env): it can then reach Redis as bullpen does\n",
                    q->name, h->job, h->line, (int)n, h->env[i]);
    }
}

/* PDF support: poppler-glib is opened with dlopen() where a PDF is parsed (bp_poppler.h),
 * so a machine without it starts, and only its PDF jobs fail: say so before they do. This
 * loads it into this short-lived process, never into the pool's. */
static void check_pdf_support(FILE *out)
{
    bp_err err = {0};

    if (bp_poppler_get(&err) != NULL)
        fprintf(out, "ok      PDF support: %s loads\n", BP_POPPLER_GLIB_SONAME);
    else
        fprintf(out, "warning PDF jobs will fail: %s\n", err.msg);
}

/* Load every queue's handlers as `bullpen run` would (plugins: dlopen, ABI, init), so a bad
 * plugin is caught here and not at start. */
static int check_handlers(const bp_config *cfg, FILE *out)
{
    bool pdf_checked = false;

    for (size_t i = 0; i < cfg->n_queues; i++) {
        bp_handlers *h = NULL;
        bp_err err = {0};
        if (bp_handlers_new(&h, &cfg->queues[i], &err) != 0) {
            fprintf(out, "refused %s\n", err.msg);
            return EX_CONFIG;
        }
        bp_handlers_free(h);
        fprintf(out, "ok      handlers of '%s': %zu loaded\n", cfg->queues[i].name,
                cfg->queues[i].n_handlers);
        for (size_t j = 0; j < cfg->queues[i].n_handlers; j++) {
            const bp_handler_config *hc = &cfg->queues[i].handlers[j];
            if (hc->type == BP_HANDLER_DOCUMENT && !pdf_checked) {
                check_pdf_support(out);
                pdf_checked = true;
            }
            if (hc->type == BP_HANDLER_DOCUMENT)
                check_allowed_dirs(cfg, &cfg->queues[i], hc, out);
            else if (hc->type == BP_HANDLER_EXEC)
                check_exec_env(cfg, &cfg->queues[i], hc, out);
        }
    }
    return 0;
}

/* Sentinel: the sentinels, the master they agree on, its replicas. Cluster: the slot map
 * and where each queue's keys live. */
static int check_topology(const bp_config *cfg, SSL_CTX *ctx, FILE *out, bp_err *err)
{
    const char *routes[64], *labels[64];
    char rbuf[64][600], lbuf[64][300];
    size_t n = 0;

    if (cfg->redis.cluster.n_nodes == 0)
        return bp_topology_check(&cfg->redis, ctx, out, err);
    for (size_t i = 0; i < cfg->n_queues && n < 64; i++, n++) {
        snprintf(rbuf[n], sizeof(rbuf[n]), "%s:%s:id", cfg->queues[i].prefix, cfg->queues[i].name);
        snprintf(lbuf[n], sizeof(lbuf[n]), "queue '%s'", cfg->queues[i].name);
        routes[n] = rbuf[n];
        labels[n] = lbuf[n];
    }
    return bp_topology_cluster_check(&cfg->redis, ctx, routes, labels, n, out, err);
}

int bp_check_run(const bp_config *cfg, FILE *out)
{
    SSL_CTX *ctx = NULL;
    bp_conn *c = NULL;
    bp_err err = {0};
    int code, worst = 0;

    bp_config_print(cfg, out);
    fprintf(out, "\n# preflight: %s%s%s\n",
            cfg->redis.url_redacted != NULL ? cfg->redis.url_redacted : "(no redis.url)",
            cfg->redis.sentinel.master_name != NULL || cfg->redis.cluster.n_nodes > 0
                ? " (its host is not used), mode "
                : "",
            cfg->redis.sentinel.master_name != NULL || cfg->redis.cluster.n_nodes > 0
                ? bp_topology_mode(&cfg->redis)
                : "");
    if (check_handlers(cfg, out) != 0) {
        fputs("check FAILED\n", out);
        return EX_CONFIG;
    }
    if (cfg->redis.transport == BP_TRANSPORT_TLS) {
        if (bp_tls_ctx_new(&ctx, &cfg->redis.tls, &err) != 0) {
            fprintf(out, "refused %s\n", err.msg);
            return EX_CONFIG;
        }
        check_describe_tls(&cfg->redis.tls, out);
    }
    if (check_topology(cfg, ctx, out, &err) != 0) {
        fprintf(out, "refused %s\n", err.msg);
        code = check_exit_code(&err);
        goto out_free_ctx;
    }
    code = check_connect(cfg, ctx, &c, out);
    if (code != 0)
        goto out_free_ctx;
    worst = check_info(cfg, c, out);
    if (worst == EX_UNAVAILABLE || !bp_conn_ok(c))
        goto out_close;
    code = check_scripts(c, out);
    if (code != 0 && (worst == 0 || code == EX_UNAVAILABLE))
        worst = code;
    if (!bp_conn_ok(c))
        goto out_close;
    code = check_latency(c, out);
    if (code != 0 && worst == 0)
        worst = code;

out_close:
    bp_conn_close(c);
    code = worst;
out_free_ctx:
    bp_tls_ctx_free(ctx);
    fputs(code == 0 ? "check passed\n" : "check FAILED\n", out);
    return code;
}
