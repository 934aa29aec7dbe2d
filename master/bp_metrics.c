/* bp_metrics.c -- the master's Prometheus metrics and their HTTP server (see bp_metrics.h).
 *
 * One mutex guards every number: the master's main thread writes, libmicrohttpd's single
 * internal thread reads while rendering /metrics. Writes are a lookup in a handful of queues
 * and an increment, so the lock is held for microseconds and contention is nil. Rendering
 * takes the lock for the whole text so a scrape sees one consistent snapshot (a histogram's
 * buckets agree with its count).
 *
 * The listening socket is ours: we resolve, bind and listen ourselves so a taken port or a
 * bad address gets a precise message, then hand the socket to libmicrohttpd, which owns it
 * from then on and closes it in MHD_stop_daemon(). libmicrohttpd itself is opened with
 * dlopen() here, at start (bp_mhd.h), so no other process maps it. A forked worker inherits that
 * socket and the server's memory but not its thread; bp_metrics_forget() closes the socket and
 * parks the server's pointer where LeakSanitizer still sees it, without touching the server. */
#include "bp_metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bp_time.h"

#ifdef BP_HAVE_MHD
#include "bp_mhd.h"
#if MHD_VERSION < 0x00097002
typedef int bp_mhd_result; /* before 0.9.71 handlers returned int */
#else
typedef enum MHD_Result bp_mhd_result;
#endif
#endif

#define BP_METRICS_MAX_CAUSES     32 /* distinct cause labels per counter; the last is "other" */
#define BP_METRICS_CAUSE_LEN      32 /* a cause label's longest text, NUL included */
#define BP_METRICS_N_OUTCOMES     4  /* entries of bp_metrics_outcome */
#define BP_METRICS_N_STATES       6  /* entries of bp_metrics_state */
#define BP_METRICS_BACKLOG        16 /* a scraper or two, and a health checker */
#define BP_METRICS_MAX_CONNS      16 /* libmicrohttpd connection limit */
#define BP_METRICS_CONN_TIMEOUT_S 10 /* an idle scraper connection is closed after this */

/* Job duration buckets, seconds: from a cached document (milliseconds) to a long conversion
 * (minutes). Prometheus client libraries' defaults, stretched to 5 minutes. */
static const double bucket_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                   1,     2.5,  5,     10,   30,  60,   300};
#define BP_METRICS_N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

static const char *const outcome_name[BP_METRICS_N_OUTCOMES] = {"completed", "failed", "retried",
                                                                "recovered"};
static const char *const outcome_help[BP_METRICS_N_OUTCOMES] = {
    "Jobs completed by this pool.",
    "Jobs failed for good (attempts exhausted) by this pool.",
    "Jobs that failed and were scheduled to run again.",
    "Jobs put back after their worker died or hung.",
};
static const char *const state_name[BP_METRICS_N_STATES] = {"waiting",   "active", "delayed",
                                                            "completed", "failed", "paused"};

typedef struct bp_queue_metrics {
    char *name;                               /* queue name, owned */
    uint64_t outcomes[BP_METRICS_N_OUTCOMES]; /* by bp_metrics_outcome */
    uint64_t buckets[BP_METRICS_N_BUCKETS];   /* observations per bucket, not cumulative */
    uint64_t observed;                        /* observations in all, +Inf included */
    double duration_sum;                      /* seconds, all observations */
    int workers;                              /* live worker processes */
    int64_t depth[BP_METRICS_N_STATES];       /* job count per state */
    bool depth_known[BP_METRICS_N_STATES];    /* a state is shown once it was set */
} bp_queue_metrics;

typedef struct bp_cause_count {
    char name[BP_METRICS_CAUSE_LEN]; /* label value, [a-z0-9_] */
    uint64_t n;                      /* times counted */
} bp_cause_count;

typedef struct bp_cause_table {
    bp_cause_count causes[BP_METRICS_MAX_CAUSES]; /* in first-seen order */
    size_t n;                                     /* entries in use */
} bp_cause_table;

struct bp_metrics {
    pthread_mutex_t lock;     /* guards every field below */
    bp_queue_metrics *queues; /* per queue, first-seen order */
    size_t n_queues;          /* entries in queues */
    size_t cap_queues;        /* allocated entries */
    bp_cause_table respawns;  /* workers respawned, by cause */
    bp_cause_table kills;     /* workers killed by the master, by cause */
    uint64_t reconnects;      /* Redis reconnects */
    double rtt_s;             /* latest Redis round trip, seconds */
    bool rtt_known;           /* rtt_s was set at least once */
    double idle_rate;         /* idle Redis commands per second */
    double cmds_rate;         /* the pool's own Redis commands per second */
    double cmds_total;        /* and in all */
    bool live;                /* what /healthz answers (while the loop calls in) */
    bool ready;               /* what /readyz answers */
    int64_t health_mono;      /* when the master loop last set them, 0 = never */
    char why_not_live[192];   /* /healthz's 503 body */
    char why_not_ready[192];  /* /readyz's 503 body */
    void *daemon;             /* struct MHD_Daemon *, NULL when not serving */
    const struct bp_mhd *mhd; /* libmicrohttpd's functions, set by bp_metrics_start() */
    int listen_fd;            /* the server's socket (owned by the daemon), -1 when none */
    int port;                 /* bound TCP port, 0 when not serving */
};

/* A forgotten (post-fork) server's memory: kept reachable for LeakSanitizer, never used. */
static void *forgotten_daemon;

bp_metrics *bp_metrics_new(void)
{
    bp_metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    m->listen_fd = -1;
    return m;
}

void bp_metrics_free(bp_metrics *m)
{
    size_t i;

    if (m == NULL)
        return;
    bp_metrics_stop(m);
    for (i = 0; i < m->n_queues; i++)
        free(m->queues[i].name);
    free(m->queues);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The queue's entry, created on first use. Caller holds the lock. NULL when out of memory:
 * the update is then dropped (a metric is not worth failing a job for). */
static bp_queue_metrics *queue_get(bp_metrics *m, const char *queue)
{
    bp_queue_metrics *q;
    size_t i;

    for (i = 0; i < m->n_queues; i++)
        if (strcmp(m->queues[i].name, queue) == 0)
            return &m->queues[i];
    if (m->n_queues == m->cap_queues) {
        size_t cap = m->cap_queues ? m->cap_queues * 2 : 4;
        bp_queue_metrics *grown = realloc(m->queues, cap * sizeof(*grown));

        if (grown == NULL)
            return NULL;
        m->queues = grown;
        m->cap_queues = cap;
    }
    q = &m->queues[m->n_queues];
    memset(q, 0, sizeof(*q));
    q->name = strdup(queue);
    if (q->name == NULL)
        return NULL;
    m->n_queues++;
    return q;
}

/* Count one cause in t, after reducing it to a safe label. Caller holds the lock. */
static void cause_count(bp_cause_table *t, const char *cause)
{
    char label[BP_METRICS_CAUSE_LEN];
    size_t i;

    for (i = 0; cause[i] != '\0' && i < sizeof(label) - 1; i++) {
        char c = cause[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a'); /* "SIGSEGV" reads better as "sigsegv" than "_______" */
        label[i] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ? c : '_';
    }
    label[i] = '\0';
    if (i == 0)
        snprintf(label, sizeof(label), "unknown");
    for (i = 0; i < t->n; i++)
        if (strcmp(t->causes[i].name, label) == 0)
            goto out_count;
    if (t->n >= BP_METRICS_MAX_CAUSES - 1) {
        /* the table is full: the last slot is "other" */
        snprintf(label, sizeof(label), "other");
        for (i = 0; i < t->n; i++)
            if (strcmp(t->causes[i].name, label) == 0)
                goto out_count;
    }
    if (t->n == BP_METRICS_MAX_CAUSES)
        return; /* cannot happen: "other" is always found above once the table is full */
    i = t->n++;
    snprintf(t->causes[i].name, sizeof(t->causes[i].name), "%s", label);
out_count:
    t->causes[i].n++;
}

void bp_metrics_job_done(bp_metrics *m, const char *queue, bp_metrics_outcome outcome,
                         double duration_s)
{
    bp_queue_metrics *q;
    size_t b;

    if ((unsigned)outcome >= BP_METRICS_N_OUTCOMES)
        return;
    pthread_mutex_lock(&m->lock);
    q = queue_get(m, queue);
    if (q == NULL)
        goto out_unlock;
    q->outcomes[outcome]++;
    if (outcome == BP_METRICS_COMPLETED || outcome == BP_METRICS_FAILED) {
        if (!(duration_s >= 0)) /* also catches NaN */
            duration_s = 0;
        for (b = 0; b < BP_METRICS_N_BUCKETS; b++)
            if (duration_s <= bucket_le[b]) {
                q->buckets[b]++;
                break;
            }
        q->observed++;
        q->duration_sum += duration_s;
    }
out_unlock:
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_set_workers(bp_metrics *m, const char *queue, int alive)
{
    bp_queue_metrics *q;

    pthread_mutex_lock(&m->lock);
    q = queue_get(m, queue);
    if (q != NULL)
        q->workers = alive;
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_set_depth(bp_metrics *m, const char *queue, bp_metrics_state state, int64_t count)
{
    bp_queue_metrics *q;

    if ((unsigned)state >= BP_METRICS_N_STATES)
        return;
    pthread_mutex_lock(&m->lock);
    q = queue_get(m, queue);
    if (q != NULL) {
        q->depth[state] = count;
        q->depth_known[state] = true;
    }
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_count_respawn(bp_metrics *m, const char *cause)
{
    pthread_mutex_lock(&m->lock);
    cause_count(&m->respawns, cause);
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_count_kill(bp_metrics *m, const char *cause)
{
    pthread_mutex_lock(&m->lock);
    cause_count(&m->kills, cause);
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_count_reconnect(bp_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->reconnects++;
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_set_rtt(bp_metrics *m, double seconds)
{
    pthread_mutex_lock(&m->lock);
    m->rtt_s = seconds;
    m->rtt_known = true;
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_set_commands_rate(bp_metrics *m, double commands_per_s, double total)
{
    pthread_mutex_lock(&m->lock);
    m->cmds_rate = commands_per_s;
    m->cmds_total = total;
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_set_idle_rate(bp_metrics *m, double commands_per_s)
{
    pthread_mutex_lock(&m->lock);
    m->idle_rate = commands_per_s;
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_set_health(bp_metrics *m, bool live, bool ready, const char *why_not_live,
                           const char *why_not_ready)
{
    pthread_mutex_lock(&m->lock);
    m->live = live;
    m->ready = ready;
    m->health_mono = bp_mono_ms();
    snprintf(m->why_not_live, sizeof(m->why_not_live), "%s",
             why_not_live != NULL ? why_not_live : "");
    snprintf(m->why_not_ready, sizeof(m->why_not_ready), "%s",
             why_not_ready != NULL ? why_not_ready : "");
    pthread_mutex_unlock(&m->lock);
}

void bp_metrics_set_healthy(bp_metrics *m, bool healthy)
{
    bp_metrics_set_health(m, healthy, healthy, NULL, NULL);
}

/* Liveness or readiness now, with the 503 body in why (cap bytes). Caller holds the lock. */
static bool health_locked(const bp_metrics *m, bool readiness, char *why, size_t cap)
{
    int64_t age = m->health_mono != 0 ? bp_mono_ms() - m->health_mono : -1;

    if (age < 0 || age > BP_METRICS_LIVE_STALE_MS) {
        snprintf(why, cap, "%s: the master loop %s\n", readiness ? "not ready" : "not live",
                 age < 0 ? "has not run yet" : "has not run for more than 15 s (hung?)");
        return false;
    }
    if (readiness ? m->ready : m->live) {
        snprintf(why, cap, "%s\n", readiness ? "ready" : "live");
        return true;
    }
    snprintf(why, cap, "%s: %s\n", readiness ? "not ready" : "not live",
             readiness ? m->why_not_ready : m->why_not_live);
    return false;
}

/* A label value in the text format: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *value)
{
    for (; *value != '\0'; value++) {
        if (*value == '\\')
            fputs("\\\\", f);
        else if (*value == '"')
            fputs("\\\"", f);
        else if (*value == '\n')
            fputs("\\n", f);
        else
            fputc(*value, f);
    }
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One queue-labelled sample: name{queue="q"} value */
static void put_queue_sample(FILE *f, const char *name, const char *queue, const char *extra,
                             double value)
{
    fprintf(f, "%s{queue=\"", name);
    put_label(f, queue);
    fprintf(f, "\"%s} %.17g\n", extra, value);
}

static void put_causes(FILE *f, const char *name, const char *help, const bp_cause_table *t)
{
    size_t i;

    put_family(f, name, "counter", help);
    for (i = 0; i < t->n; i++)
        fprintf(f, "%s{cause=\"%s\"} %llu\n", name, t->causes[i].name,
                (unsigned long long)t->causes[i].n);
}

static void put_histogram(FILE *f, const bp_queue_metrics *q)
{
    uint64_t cumulative = 0;
    char le[64];
    size_t b;

    for (b = 0; b < BP_METRICS_N_BUCKETS; b++) {
        cumulative += q->buckets[b];
        snprintf(le, sizeof(le), ",le=\"%g\"", bucket_le[b]);
        put_queue_sample(f, "bullpen_job_duration_seconds_bucket", q->name, le, (double)cumulative);
    }
    put_queue_sample(f, "bullpen_job_duration_seconds_bucket", q->name, ",le=\"+Inf\"",
                     (double)q->observed);
    put_queue_sample(f, "bullpen_job_duration_seconds_sum", q->name, "", q->duration_sum);
    put_queue_sample(f, "bullpen_job_duration_seconds_count", q->name, "", (double)q->observed);
}

/* Everything, in the text format. Caller holds the lock. */
static void render_locked(bp_metrics *m, FILE *f)
{
    char name[64];
    size_t i, o, s;

    {
        char why[256];
        put_family(f, "bullpen_up", "gauge",
                   "1 while the master loop runs and reaches Redis (liveness: /healthz).");
        fprintf(f, "bullpen_up %d\n", health_locked(m, false, why, sizeof(why)) ? 1 : 0);
        put_family(f, "bullpen_ready", "gauge",
                   "1 while every configured worker is connected (readiness: /readyz).");
        fprintf(f, "bullpen_ready %d\n", health_locked(m, true, why, sizeof(why)) ? 1 : 0);
    }
    put_family(f, "bullpen_build_info", "gauge", "The running bullpen's version.");
    fprintf(f, "bullpen_build_info{version=\"%s\"} 1\n", BP_VERSION);

    for (o = 0; o < BP_METRICS_N_OUTCOMES; o++) {
        snprintf(name, sizeof(name), "bullpen_jobs_%s_total", outcome_name[o]);
        put_family(f, name, "counter", outcome_help[o]);
        for (i = 0; i < m->n_queues; i++)
            put_queue_sample(f, name, m->queues[i].name, "", (double)m->queues[i].outcomes[o]);
    }
    put_family(f, "bullpen_job_duration_seconds", "histogram",
               "Run time of completed and failed jobs, seconds.");
    for (i = 0; i < m->n_queues; i++)
        put_histogram(f, &m->queues[i]);
    put_family(f, "bullpen_workers_alive", "gauge", "Live worker processes per queue.");
    for (i = 0; i < m->n_queues; i++)
        put_queue_sample(f, "bullpen_workers_alive", m->queues[i].name, "", m->queues[i].workers);
    put_family(f, "bullpen_queue_jobs", "gauge", "Jobs in each of the queue's Bull states.");
    for (i = 0; i < m->n_queues; i++)
        for (s = 0; s < BP_METRICS_N_STATES; s++) {
            if (!m->queues[i].depth_known[s])
                continue;
            snprintf(name, sizeof(name), ",state=\"%s\"", state_name[s]);
            put_queue_sample(f, "bullpen_queue_jobs", m->queues[i].name, name,
                             (double)m->queues[i].depth[s]);
        }
    put_causes(f, "bullpen_worker_respawns_total", "Worker processes started again, by cause.",
               &m->respawns);
    put_causes(f, "bullpen_worker_kills_total", "Workers killed by the master, by cause.",
               &m->kills);
    put_family(f, "bullpen_redis_reconnects_total", "counter", "Redis connections re-opened.");
    fprintf(f, "bullpen_redis_reconnects_total %llu\n", (unsigned long long)m->reconnects);
    put_family(f, "bullpen_redis_rtt_seconds", "gauge", "Latest Redis round-trip time, seconds.");
    if (m->rtt_known)
        fprintf(f, "bullpen_redis_rtt_seconds %.9g\n", m->rtt_s);
    put_family(f, "bullpen_redis_idle_commands_per_second", "gauge",
               "Redis commands per second the pool sent over the last window in which no job ran.");
    fprintf(f, "bullpen_redis_idle_commands_per_second %.9g\n", m->idle_rate);
    put_family(f, "bullpen_redis_commands_per_second", "gauge",
               "Redis commands per second the pool sent (workers and master), last 10 s.");
    fprintf(f, "bullpen_redis_commands_per_second %.9g\n", m->cmds_rate);
    put_family(f, "bullpen_redis_commands_total", "counter",
               "Redis commands the pool sent (workers and master) since start.");
    fprintf(f, "bullpen_redis_commands_total %.0f\n", m->cmds_total);
}

int bp_metrics_render(bp_metrics *m, char **out, size_t *len, bp_err *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);

    if (f == NULL) {
        bp_err_set(err, BP_ERR_IO, errno, "cannot render metrics: %s", strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&m->lock);
    render_locked(m, f);
    pthread_mutex_unlock(&m->lock);
    if (fclose(f) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "cannot render metrics: %s", strerror(errno));
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

int bp_metrics_port(const bp_metrics *m)
{
    return m->daemon != NULL ? m->port : 0;
}

/* Split "host:port" / "[v6]:port" / ":port" / "*:port" into host (NULL = any) and port. */
static int parse_listen(const char *listen, char *host, size_t host_size, char *port,
                        size_t port_size, bp_err *err)
{
    const char *colon, *hstart = listen, *hend;
    char *end;
    long p;

    if (listen[0] == '[') {
        hstart = listen + 1;
        hend = strchr(hstart, ']');
        if (hend == NULL || hend[1] != ':')
            goto err_syntax;
        colon = hend + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            goto err_syntax;
        hend = colon;
    }
    if ((size_t)(hend - hstart) >= host_size)
        goto err_syntax;
    memcpy(host, hstart, (size_t)(hend - hstart));
    host[hend - hstart] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
        goto err_syntax;
    snprintf(port, port_size, "%ld", p);
    return 0;

err_syntax:
    bp_err_set(err, BP_ERR_CONFIG, 0,
               "bad metrics.listen '%s': expected host:port, e.g. 127.0.0.1:9187 or [::1]:9187",
               listen);
    return -1;
}

/* Resolve, bind and listen. Stores the socket and its port. */
static int open_listener(const char *listen_addr, int *fd_out, int *port_out, bp_err *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[256], port[8];
    int fd, one = 1, rc;

    if (parse_listen(listen_addr, host, sizeof(host), port, sizeof(port), err) < 0)
        return -1;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "cannot resolve metrics.listen '%s': %s", listen_addr,
                   gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, res->ai_protocol);
    if (fd < 0) {
        bp_err_set(err, BP_ERR_IO, errno, "cannot create the metrics socket: %s", strerror(errno));
        goto out_free_res;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, BP_METRICS_BACKLOG) < 0) {
        bp_err_set(err, BP_ERR_IO, errno,
                   "cannot listen on '%s' (metrics.listen): %s; choose another address or "
                   "stop what holds it",
                   listen_addr, strerror(errno));
        goto out_close_fd;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        bp_err_set(err, BP_ERR_IO, errno, "cannot read the metrics socket's address: %s",
                   strerror(errno));
        goto out_close_fd;
    }
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    freeaddrinfo(res);
    return 0;

out_close_fd:
    close(fd);
out_free_res:
    freeaddrinfo(res);
    return -1;
}

#ifdef BP_HAVE_MHD
/* /healthz or /readyz: 200 or 503, with a one-line body saying why. */
static bp_mhd_result send_health(struct MHD_Connection *conn, bp_metrics *m, bool readiness)
{
    const bp_mhd *mhd = m->mhd;
    char why[256];
    struct MHD_Response *r;
    bp_mhd_result rc;
    bool ok;
    size_t len;

    pthread_mutex_lock(&m->lock);
    ok = health_locked(m, readiness, why, sizeof(why));
    pthread_mutex_unlock(&m->lock);
    len = strlen(why);
    r = mhd->create_response_from_buffer(len, why, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    mhd->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    rc = mhd->queue_response(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, r);
    mhd->destroy_response(r);
    return rc;
}

static bp_mhd_result send_text(const bp_mhd *mhd, struct MHD_Connection *conn, unsigned status,
                               const char *text)
{
    struct MHD_Response *r = mhd->create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                              MHD_RESPMEM_PERSISTENT);
    bp_mhd_result rc;

    if (r == NULL)
        return MHD_NO;
    mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        mhd->add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rc = mhd->queue_response(conn, status, r);
    mhd->destroy_response(r);
    return rc;
}

/* libmicrohttpd's request handler, on the server's thread. */
static bp_mhd_result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls)
{
    bp_metrics *m = cls;
    const bp_mhd *mhd = m->mhd;
    struct MHD_Response *r;
    bp_mhd_result rc;
    char *text;
    size_t len;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_text(mhd, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/healthz") == 0)
        return send_health(conn, m, false);
    if (strcmp(url, "/readyz") == 0)
        return send_health(conn, m, true);
    if (strcmp(url, "/") == 0)
        return send_text(mhd, conn, MHD_HTTP_OK,
                         "bullpen: /metrics (Prometheus), /healthz (liveness), /readyz "
                         "(readiness)\n");
    if (strcmp(url, "/metrics") != 0)
        return send_text(mhd, conn, MHD_HTTP_NOT_FOUND,
                         "not found: try /metrics, /healthz or /readyz\n");
    if (bp_metrics_render(m, &text, &len, NULL) < 0)
        return send_text(mhd, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    r = mhd->create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    mhd->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                             "text/plain; version=0.0.4; charset=utf-8");
    rc = mhd->queue_response(conn, MHD_HTTP_OK, r);
    mhd->destroy_response(r);
    return rc;
}

int bp_metrics_start(bp_metrics *m, const char *listen_addr, bp_err *err)
{
    const bp_mhd *mhd;
    struct MHD_Daemon *d;
    unsigned flags;
    int fd, port;

    if (m->daemon != NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "the metrics server already listens on port %d", m->port);
        return -1;
    }
    if ((mhd = bp_mhd_get(err)) == NULL)
        return -1;
    m->mhd = mhd; /* before the server's thread can call handle_request() */
    if (open_listener(listen_addr, &fd, &port, err) < 0)
        return -1;
    /* epoll, not poll: MHD's poll loop callocs its pollfd array around every poll() call, and
     * a worker forked while the thread waits inherits that block with no thread to free it
     * (LeakSanitizer reports it at the worker's exit); the epoll loop allocates nothing */
    flags = mhd->is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
                ? MHD_USE_EPOLL_INTERNAL_THREAD
                : MHD_USE_INTERNAL_POLLING_THREAD;
    d = mhd->start_daemon(flags, 0, NULL, NULL, handle_request, m, MHD_OPTION_LISTEN_SOCKET, fd,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)BP_METRICS_MAX_CONNS,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)BP_METRICS_CONN_TIMEOUT_S,
                          MHD_OPTION_END);
    if (d == NULL) {
        bp_err_set(err, BP_ERR_IO, errno, "cannot start the metrics server on '%s': %s",
                   listen_addr, errno ? strerror(errno) : "libmicrohttpd refused");
        close(fd);
        return -1;
    }
    m->daemon = d;
    m->listen_fd = fd;
    m->port = port;
    return 0;
}

void bp_metrics_stop(bp_metrics *m)
{
    const bp_mhd *mhd = m->mhd;

    if (m->daemon == NULL)
        return;
    mhd->stop_daemon(m->daemon); /* joins its thread, closes the listening socket */
    m->daemon = NULL;
    m->listen_fd = -1;
    m->port = 0;
}
#else
int bp_metrics_start(bp_metrics *m, const char *listen_addr, bp_err *err)
{
    (void)m;
    (void)open_listener;
    bp_err_set(err, BP_ERR_CONFIG, 0,
               "metrics.listen '%s' is set but bullpen was built without libmicrohttpd; "
               "remove metrics.listen or rebuild with libmicrohttpd-dev installed",
               listen_addr);
    return -1;
}

void bp_metrics_stop(bp_metrics *m)
{
    (void)m;
}
#endif

void bp_metrics_forget(bp_metrics *m)
{
    /* the server's thread may have held the lock at fork(): the child's copy starts afresh */
    pthread_mutex_init(&m->lock, NULL);
    if (m->daemon == NULL)
        return;
    close(m->listen_fd);
    forgotten_daemon = m->daemon;
    m->daemon = NULL;
    m->listen_fd = -1;
    m->port = 0;
}
