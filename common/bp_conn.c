/* bp_conn.c -- one Redis connection at work: RESP formatting and parsing over a socket
 * with optional TLS; closing and abandoning it. Opening it is in bp_conn_open.c; the two
 * share the private bp_conn_int.h and are the only files that touch sockets, SSL objects
 * and the hiredis reader. Design:
 * - The socket is always non-blocking. Every wait is a poll() bounded by an absolute
 *   monotonic deadline (connect_timeout_ms for the whole of bp_conn_open(),
 *   command_timeout_ms per command, block_s + command_timeout_ms for blocking pulls), so
 *   no peer can make us hang: not a black hole, not a TLS port spoken to in plain text.
 * - I/O is tried first and poll() is called only on EAGAIN / SSL_ERROR_WANT_*: bytes that
 *   OpenSSL already decrypted do not make the fd readable, and a read that would succeed
 *   does not need a syscall to announce it. The hot path (one small command) is one
 *   write, then read / poll / read.
 * - Commands are formatted straight into one output buffer (no malloc per command once
 *   it has grown), which is written with as few write(2)/SSL_write calls as the kernel
 *   accepts: pipelining costs one write for many commands. Reads go through a 64 KiB
 *   buffer into the redisReader (hiredis 0.14 has no TLS, so we use only its reader and
 *   formatter).
 * - Any failure other than an error reply marks the connection broken (bp_conn_ok() false):
 *   the reader's errors are sticky and a timed-out or interrupted command leaves a reply in
 *   flight, so the only safe next step is to close and reopen. (The one exception is in
 *   bp_conn_read_reply(): a wait with nothing outstanding.)
 * - bp_conn_abandon() is for a child after fork(): close the fd first, then free the SSL,
 *   so not a byte (no close_notify) reaches the parent's session. */
#include "bp_conn.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bp_conn_int.h"
#include "bp_time.h"

/* Commands this process has sent on every connection (bullpen stats and /metrics show the
 * pool's own commands per second from it); both worker threads append, hence the atomic. */
static _Atomic unsigned long long conn_commands_sent;

unsigned long long bp_conn_commands_sent(void)
{
    return atomic_load_explicit(&conn_commands_sent, memory_order_relaxed);
}

/* ---- small helpers ------------------------------------------------------------------ */

void bp_conn_io_break(bp_conn *c)
{
    c->broken = true;
}

/* Milliseconds left until deadline (< 0: no deadline -> -1, poll's "forever"). */
static int conn_remaining(int64_t deadline)
{
    int64_t left;

    if (deadline < 0)
        return -1;
    left = deadline - bp_mono_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static int64_t conn_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : bp_mono_ms() + timeout_ms;
}

/* Wait until fd is ready for events or deadline passes; wake_fd (>= 0) interrupts. */
int bp_conn_io_wait(bp_conn *c, short events, int wake_fd, int64_t deadline, const char *what,
                    int timeout_ms, bp_err *err)
{
    struct pollfd pfd[2] = {{.fd = c->fd, .events = events}, {.fd = wake_fd, .events = POLLIN}};
    int n;

    for (;;) {
        int left = conn_remaining(deadline);

        if (deadline >= 0 && left == 0)
            break;
        n = poll(pfd, wake_fd >= 0 ? 2 : 1, left);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            bp_err_set(err, BP_ERR_IO, e, "poll on '%s' failed: %s", c->url, strerror(e));
            bp_conn_io_break(c);
            return -1;
        }
        if (n == 0)
            continue; /* re-check the deadline */
        if (pfd[0].revents != 0)
            return 0; /* data wins over a wake-up: a moved job must not be left behind */
        if (wake_fd >= 0 && pfd[1].revents != 0) {
            bp_err_set(err, BP_ERR_WOKEN, 0, "wait for '%s' interrupted", c->url);
            bp_conn_io_break(c);
            return -1;
        }
    }
    bp_err_set(err, BP_ERR_TIMEOUT, ETIMEDOUT, "%s '%s' timed out after %d ms", what, c->url,
               timeout_ms);
    bp_conn_io_break(c);
    return -1;
}

/* A hint for the OpenSSL reason behind a failed TLS read/handshake, and whether the
 * reason means "fix the configuration". */
const char *bp_conn_io_ssl_hint(unsigned long e, bool *config)
{
    int reason = ERR_GET_REASON(e);

    *config = true;
    if (ERR_GET_LIB(e) != ERR_LIB_SSL) {
        *config = false;
        return "";
    }
    switch (reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
        return "; the server does not speak TLS on this port: use redis:// for a plain port "
               "or the server's tls-port";
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
        return "; the server refused our client certificate: check redis.tls.cert_file and "
               "redis.tls.key_file";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
        return "; check redis.tls.min_version";
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        *config = false;
        return "";
    default:
        return "";
    }
}

/* ---- transport ---------------------------------------------------------------------- */

/* Set err for a connection closed by the peer. */
static void conn_set_eof(bp_conn *c, bp_err *err)
{
    bp_err_set(err, BP_ERR_IO, 0, "connection to '%s' closed by the server", c->url);
    bp_conn_io_break(c);
}

/* Read what is available into the reader. Returns 1 when bytes were fed, 0 when the read
 * would block (*want is set to the poll events to wait for), -1 on error (err set). */
int bp_conn_io_read(bp_conn *c, short *want, bp_err *err)
{
    int n;

    if (c->ssl != NULL) {
        int e;

        ERR_clear_error();
        errno = 0; /* SSL_ERROR_SYSCALL with errno 0 means EOF */
        n = SSL_read(c->ssl, c->ibuf, (int)sizeof(c->ibuf));
        if (n <= 0) {
            int saved = errno;

            e = SSL_get_error(c->ssl, n);
            switch (e) {
            case SSL_ERROR_WANT_READ:
                *want = POLLIN;
                return 0;
            case SSL_ERROR_WANT_WRITE:
                *want = POLLOUT;
                return 0;
            case SSL_ERROR_ZERO_RETURN:
                conn_set_eof(c, err);
                return -1;
            case SSL_ERROR_SYSCALL:
                ERR_clear_error();
                if (saved == 0) {
                    conn_set_eof(c, err);
                    return -1;
                }
                bp_err_set(err, BP_ERR_IO, saved, "cannot read from '%s': %s", c->url,
                           strerror(saved));
                bp_conn_io_break(c);
                return -1;
            default: {
                unsigned long first = ERR_peek_error();
                bool config;
                const char *hint = bp_conn_io_ssl_hint(first, &config);

                if (ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                    ERR_clear_error();
                    conn_set_eof(c, err);
                    return -1;
                }
                bp_err_set_ssl(err, config ? BP_ERR_CONFIG : BP_ERR_IO,
                               "TLS error reading from '%s'", c->url);
                if (err != NULL && hint[0] != '\0')
                    strncat(err->msg, hint, sizeof(err->msg) - strlen(err->msg) - 1);
                bp_conn_io_break(c);
                return -1;
            }
            }
        }
    } else {
        ssize_t r = recv(c->fd, c->ibuf, sizeof(c->ibuf), 0);

        if (r < 0) {
            int saved = errno;

            if (saved == EAGAIN || saved == EWOULDBLOCK || saved == EINTR) {
                *want = POLLIN;
                return 0;
            }
            bp_err_set(err, BP_ERR_IO, saved, "cannot read from '%s': %s", c->url, strerror(saved));
            bp_conn_io_break(c);
            return -1;
        }
        if (r == 0) {
            conn_set_eof(c, err);
            return -1;
        }
        n = (int)r;
    }
    if (c->first_byte < 0)
        c->first_byte = (unsigned char)c->ibuf[0];
    if (redisReaderFeed(c->reader, c->ibuf, (size_t)n) != REDIS_OK) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "cannot parse reply from '%s': %s", c->url,
                   c->reader->errstr);
        bp_conn_io_break(c);
        return -1;
    }
    return 1;
}

/* Write as much of buf as the socket takes. Returns bytes written (> 0), 0 when it would
 * block (*want set), -1 on error. */
static ssize_t conn_write_some(bp_conn *c, const char *buf, size_t len, short *want, bp_err *err)
{
    if (c->ssl != NULL) {
        int n;
        int chunk = len > INT_MAX ? INT_MAX : (int)len;

        ERR_clear_error();
        errno = 0;
        n = SSL_write(c->ssl, buf, chunk);
        if (n > 0)
            return n;
        {
            int saved = errno;
            int e = SSL_get_error(c->ssl, n);

            if (e == SSL_ERROR_WANT_WRITE) {
                *want = POLLOUT;
                return 0;
            }
            if (e == SSL_ERROR_WANT_READ) {
                *want = POLLIN;
                return 0;
            }
            if (e == SSL_ERROR_SYSCALL && saved != 0) {
                bp_err_set(err, BP_ERR_IO, saved, "cannot write to '%s': %s", c->url,
                           strerror(saved));
            } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
                ERR_clear_error();
                conn_set_eof(c, err);
                return -1;
            } else {
                bp_err_set_ssl(err, BP_ERR_IO, "TLS error writing to '%s'", c->url);
            }
            bp_conn_io_break(c);
            return -1;
        }
    } else {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            *want = POLLOUT;
            return 0;
        }
        {
            int saved = errno;
            bp_err_set(err, BP_ERR_IO, saved, "cannot write to '%s': %s", c->url, strerror(saved));
        }
        bp_conn_io_break(c);
        return -1;
    }
}

/* Write the whole output buffer before deadline. */
int bp_conn_io_flush(bp_conn *c, int64_t deadline, int timeout_ms, bp_err *err)
{
    while (c->osent < c->olen) {
        short want = 0;
        ssize_t n = conn_write_some(c, c->obuf + c->osent, c->olen - c->osent, &want, err);

        if (n < 0)
            return -1;
        if (n > 0) {
            c->osent += (size_t)n;
            continue;
        }
        if (bp_conn_io_wait(c, want, -1, deadline, "writing to", timeout_ms, err) != 0)
            return -1;
    }
    c->olen = 0;
    c->osent = 0;
    if (c->ocap > BP_CONN_OBUF_KEEP) {
        char *small = realloc(c->obuf, BP_CONN_OBUF_KEEP);
        if (small != NULL) {
            c->obuf = small;
            c->ocap = BP_CONN_OBUF_KEEP;
        }
    }
    return 0;
}

/* Next reply from the reader, reading as needed until deadline or wake_fd. */
int bp_conn_io_reply(bp_conn *c, redisReply **out, int wake_fd, int64_t deadline, int timeout_ms,
                     bp_err *err)
{
    void *reply = NULL;

    for (;;) {
        short want = 0;
        int r;

        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
            if (c->first_byte == 0x15 || c->first_byte == 0x16)
                bp_err_set(err, BP_ERR_CONFIG, 0,
                           "'%s' answered with TLS, not RESP: it is a TLS port; use rediss:// "
                           "in redis.url",
                           c->url);
            else
                bp_err_set(err, BP_ERR_PROTOCOL, 0, "cannot parse reply from '%s': %s", c->url,
                           c->reader->errstr);
            bp_conn_io_break(c);
            return -1;
        }
        if (reply != NULL) {
            *out = reply;
            return 0;
        }
        r = bp_conn_io_read(c, &want, err);
        if (r < 0)
            return -1;
        if (r == 0 && bp_conn_io_wait(c, want, wake_fd, deadline, "waiting for a reply from",
                                      timeout_ms, err) != 0)
            return -1;
    }
}

/* ---- formatting into the output buffer ---------------------------------------------- */

static int obuf_reserve(bp_conn *c, size_t more, bp_err *err)
{
    size_t need = c->olen + more;
    size_t cap = c->ocap == 0 ? 4096 : c->ocap;
    char *p;

    if (need <= c->ocap)
        return 0;
    while (cap < need)
        cap *= 2;
    p = realloc(c->obuf, cap);
    if (p == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory queueing %zu bytes for '%s'", more,
                   c->url);
        return -1;
    }
    c->obuf = p;
    c->ocap = cap;
    return 0;
}

static size_t fmt_header(char *p, char type, size_t n)
{
    char digits[24];
    size_t len = 0, i = 0;

    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    p[i++] = type;
    while (len > 0)
        p[i++] = digits[--len];
    p[i++] = '\r';
    p[i++] = '\n';
    return i;
}

int bp_conn_io_append(bp_conn *c, int argc, const char **argv, const size_t *argvlen, bp_err *err)
{
    size_t total = 24 + 2;
    char *p;

    for (int i = 0; i < argc; i++)
        total += 24 + 4 + (argvlen != NULL ? argvlen[i] : strlen(argv[i]));
    if (obuf_reserve(c, total, err) != 0)
        return -1;
    p = c->obuf + c->olen;
    p += fmt_header(p, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen != NULL ? argvlen[i] : strlen(argv[i]);

        p += fmt_header(p, '$', len);
        memcpy(p, argv[i], len);
        p += len;
        *p++ = '\r';
        *p++ = '\n';
    }
    c->olen = (size_t)(p - c->obuf);
    c->pending++;
    atomic_fetch_add_explicit(&conn_commands_sent, 1, memory_order_relaxed);
    return 0;
}

static int conn_append_vfmt(bp_conn *c, bp_err *err, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);

    if (len < 0 || cmd == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "cannot format command '%s' for '%s'", fmt, c->url);
        return -1;
    }
    if (obuf_reserve(c, (size_t)len, err) != 0) {
        redisFreeCommand(cmd);
        return -1;
    }
    memcpy(c->obuf + c->olen, cmd, (size_t)len);
    c->olen += (size_t)len;
    c->pending++;
    atomic_fetch_add_explicit(&conn_commands_sent, 1, memory_order_relaxed);
    redisFreeCommand(cmd);
    return 0;
}

static int conn_check_usable(bp_conn *c, bp_err *err)
{
    if (c->broken) {
        bp_err_set(err, BP_ERR_IO, 0,
                   "connection to '%s' is broken by an earlier error; close and reopen it", c->url);
        return -1;
    }
    return 0;
}

/* An error reply that means "this node does not serve us any more": a master turned
 * replica (READONLY, also from inside a script), a node loading its data set or cut off
 * from its master (LOADING, MASTERDOWN), a master refusing writes for want of replicas
 * (NOREPLICAS: its min-replicas-to-write, set by an operator so that a master cut off from
 * its replicas, or left behind by a failover, stops taking writes), and on Cluster a slot
 * served elsewhere or a cluster not ready (MOVED, ASK, TRYAGAIN, CLUSTERDOWN). Such a reply
 * breaks the connection with kind BP_ERR_IO: every role then reopens through bp_topology
 * (the sentinels or the slot map are asked again) with its one backoff, as after any
 * outage, and never counts it as the job's or the command's own failure. */
static bool conn_reply_rediscover(bp_conn *c, const redisReply *r, bp_err *err)
{
    static const char *const codes[] = {"READONLY", "LOADING",  "MASTERDOWN", "MOVED",
                                        "ASK",      "TRYAGAIN", "CLUSTERDOWN"};
    const char *hit = NULL;
    /* a cluster member leaves codes 3..5 (MOVED, ASK, TRYAGAIN) to its router */
    size_t skip_from = c->in_cluster ? 3 : sizeof(codes) / sizeof(codes[0]);

    if (r->type != REDIS_REPLY_ERROR || r->len == 0)
        return false;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]) && hit == NULL; i++) {
        if (i >= skip_from && i < 6)
            continue;
        size_t n = strlen(codes[i]);

        if (r->len > n && strncmp(r->str, codes[i], n) == 0 && r->str[n] == ' ')
            hit = codes[i];
    }
    if (hit == NULL && strstr(r->str, "READONLY You can't write") != NULL)
        hit = "READONLY"; /* a script's write refused on a replica */
    if (hit == NULL && strstr(r->str, "NOREPLICAS") != NULL)
        hit = "NOREPLICAS"; /* min-replicas-to-write unmet: wait for the replicas, retry */
    if (hit == NULL)
        return false;
    bp_err_set(err, BP_ERR_IO, 0, "'%s' answered %.*s; finding where Redis is now", c->url,
               (int)(r->len > 200 ? 200 : r->len), r->str);
    bp_conn_io_break(c);
    return true;
}

/* ---- cluster routers: delegate to bp_topology_cluster.c ---------------------------- */

/* The home member of router c for pub/sub and pipelines, or NULL with err set. */
static bp_conn *conn_home(bp_conn *c, bp_err *err)
{
    bp_conn *h = bp_cluster_home(c);

    if (h == NULL)
        bp_err_set(err, BP_ERR_IO, 0,
                   "cluster connection '%s' is broken by an earlier error; close and reopen it",
                   c->desc);
    return h;
}

/* After a call delegated to the home member: its breakage is the router's. */
static void conn_home_after(bp_conn *c, const bp_conn *h)
{
    if (!bp_conn_ok(h))
        c->broken = true;
}

/* bp_conn_command() on a router: format, split back into arguments, route (by key, or to
 * node when it is not NULL). */
static redisReply *conn_cluster_vcommand(bp_conn *c, const char *node, bp_err *err, const char *fmt,
                                         va_list ap)
{
    char *cmd = NULL, *p, *end;
    const char **argv = NULL;
    size_t *lens = NULL;
    redisReply *r = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    long argc;

    if (len < 0 || cmd == NULL || cmd[0] != '*') {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "cannot format a command for '%s'", c->desc);
        goto out;
    }
    end = cmd + len;
    argc = strtol(cmd + 1, &p, 10);
    argv = calloc((size_t)argc + 1, sizeof(*argv));
    lens = calloc((size_t)argc + 1, sizeof(*lens));
    if (argc <= 0 || argv == NULL || lens == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "cannot format a command for '%s'", c->desc);
        goto out;
    }
    for (long i = 0; i < argc; i++) { /* "\r\n$LEN\r\nBYTES" per argument */
        p = strchr(p, '$');
        if (p == NULL || p >= end)
            break;
        lens[i] = (size_t)strtoul(p + 1, &p, 10);
        argv[i] = p + 2;
        p += 2 + lens[i];
    }
    r = node != NULL ? bp_cluster_command_node(c, node, (int)argc, argv, lens, err)
                     : bp_cluster_command(c, (int)argc, argv, lens, -1, -1, err);
out:
    free(argv);
    free(lens);
    redisFreeCommand(cmd);
    return r;
}

/* ---- public: commands ---------------------------------------------------------------- */

int bp_conn_append(bp_conn *c, bp_err *err, const char *fmt, ...)
{
    if (c->cluster != NULL) {
        bp_conn *h = conn_home(c, err);
        va_list ap;
        int rv;

        if (h == NULL)
            return -1;
        va_start(ap, fmt);
        rv = conn_check_usable(h, err) != 0 ? -1 : conn_append_vfmt(h, err, fmt, ap);
        va_end(ap);
        conn_home_after(c, h);
        return rv;
    }
    va_list ap;
    int rv;

    if (conn_check_usable(c, err) != 0)
        return -1;
    va_start(ap, fmt);
    rv = conn_append_vfmt(c, err, fmt, ap);
    va_end(ap);
    return rv;
}

int bp_conn_append_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen, bp_err *err)
{
    if (c->cluster != NULL) {
        bp_conn *h = conn_home(c, err);
        int rv = h != NULL ? bp_conn_append_argv(h, argc, argv, argvlen, err) : -1;

        if (h != NULL)
            conn_home_after(c, h);
        return rv;
    }
    if (conn_check_usable(c, err) != 0)
        return -1;
    return bp_conn_io_append(c, argc, argv, argvlen, err);
}

int bp_conn_flush(bp_conn *c, bp_err *err)
{
    if (c->cluster != NULL) {
        bp_conn *h = conn_home(c, err);
        int rv = h != NULL ? bp_conn_flush(h, err) : -1;

        if (h != NULL)
            conn_home_after(c, h);
        return rv;
    }
    if (conn_check_usable(c, err) != 0)
        return -1;
    return bp_conn_io_flush(c, conn_deadline(c->command_timeout_ms), c->command_timeout_ms, err);
}

int bp_conn_read_reply(bp_conn *c, redisReply **out, int timeout_ms, int wake_fd, bp_err *err)
{
    int64_t deadline;
    redisReply *reply = NULL;
    bp_err local;

    if (err == NULL)
        err = &local; /* the kind decides below whether the connection survives */
    if (c->cluster != NULL) {
        bp_conn *h = conn_home(c, err);
        int rv = h != NULL ? bp_conn_read_reply(h, out, timeout_ms, wake_fd, err) : -1;

        if (h != NULL)
            conn_home_after(c, h);
        return rv;
    }
    if (conn_check_usable(c, err) != 0)
        return -1;
    if (timeout_ms < 0)
        timeout_ms = c->command_timeout_ms;
    deadline = conn_deadline(timeout_ms);
    if (bp_conn_io_flush(c, deadline, timeout_ms, err) != 0)
        return -1;
    if (bp_conn_io_reply(c, &reply, wake_fd, deadline, timeout_ms, err) != 0) {
        /* Nothing asked, nothing lost: a subscriber that waited in vain for a message (or
         * was woken) is still in step with the server; the reader keeps any partial
         * reply for the next call. Only an outstanding reply makes a timeout fatal. */
        if ((err->kind == BP_ERR_TIMEOUT || err->kind == BP_ERR_WOKEN) && c->pending == 0 &&
            c->osent == c->olen)
            c->broken = false;
        return -1;
    }
    if (c->pending > 0)
        c->pending--;
    if (conn_reply_rediscover(c, reply, err)) {
        freeReplyObject(reply);
        return -1;
    }
    *out = reply;
    return 0;
}

/* Send what is queued (one command) and wait for its reply; error replies become NULL
 * with kind BP_ERR_REPLY and the error text as the message. */
static redisReply *conn_roundtrip(bp_conn *c, int wake_fd, int64_t deadline, int timeout_ms,
                                  bp_err *err)
{
    redisReply *reply = NULL;

    if (bp_conn_io_flush(c, deadline, timeout_ms, err) != 0)
        return NULL;
    if (bp_conn_io_reply(c, &reply, wake_fd, deadline, timeout_ms, err) != 0)
        return NULL;
    c->pending--;
    if (conn_reply_rediscover(c, reply, err)) {
        freeReplyObject(reply);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        if (reply->len == 0)
            bp_err_set(err, BP_ERR_REPLY, 0, "Redis answered with an empty error reply");
        else
            bp_err_set(err, BP_ERR_REPLY, 0, "%.*s", (int)reply->len, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

static int conn_check_idle(bp_conn *c, bp_err *err)
{
    if (conn_check_usable(c, err) != 0)
        return -1;
    if (c->pending != 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%ld pipelined replies from '%s' not read yet; read them with "
                   "bp_conn_read_reply() before sending a command",
                   c->pending, c->url);
        return -1;
    }
    return 0;
}

/* One formatted command on c (on a router: by its key, or on node when not NULL; elsewhere
 * node, when given, must be c's own server). */
static redisReply *conn_vcommand(bp_conn *c, const char *node, bp_err *err, const char *fmt,
                                 va_list ap)
{
    char own[BP_CONN_NODE_MAX];

    if (c->cluster != NULL)
        return conn_cluster_vcommand(c, node, err, fmt, ap);
    if (node != NULL) {
        bp_conn_node(c, own, sizeof(own));
        if (strcmp(node, own) != 0) {
            bp_err_set(err, BP_ERR_NONE, 0, "not sent: '%s' talks to %s, not %s", c->url, own,
                       node);
            return NULL;
        }
    }
    if (conn_check_idle(c, err) != 0 || conn_append_vfmt(c, err, fmt, ap) != 0)
        return NULL;
    return conn_roundtrip(c, -1, conn_deadline(c->command_timeout_ms), c->command_timeout_ms, err);
}

redisReply *bp_conn_command(bp_conn *c, bp_err *err, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = conn_vcommand(c, NULL, err, fmt, ap);
    va_end(ap);
    return r;
}

redisReply *bp_conn_command_at(bp_conn *c, const char *node, bp_err *err, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = conn_vcommand(c, node, err, fmt, ap);
    va_end(ap);
    return r;
}

redisReply *bp_conn_command_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                                 bp_err *err)
{
    if (c->cluster != NULL)
        return bp_cluster_command(c, argc, argv, argvlen, -1, -1, err);
    if (conn_check_idle(c, err) != 0)
        return NULL;
    if (bp_conn_io_append(c, argc, argv, argvlen, err) != 0)
        return NULL;
    return conn_roundtrip(c, -1, conn_deadline(c->command_timeout_ms), c->command_timeout_ms, err);
}

redisReply *bp_conn_blocking_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                                  int block_s, int wake_fd, bp_err *err)
{
    int timeout_ms = -1;

    if (c->cluster != NULL)
        return bp_cluster_command(c, argc, argv, argvlen, block_s, wake_fd, err);
    if (conn_check_idle(c, err) != 0)
        return NULL;
    if (bp_conn_io_append(c, argc, argv, argvlen, err) != 0)
        return NULL;
    if (block_s > 0) /* 0 blocks forever in Redis: then only wake_fd ends the wait */
        timeout_ms = block_s * 1000 + c->command_timeout_ms;
    return conn_roundtrip(c, wake_fd, conn_deadline(timeout_ms), timeout_ms, err);
}

int bp_conn_wait_replicas(bp_conn *c, bp_err *err)
{
    char acks[16], ms[16];
    const char *argv[] = {"WAIT", acks, ms};
    int block_s = (c->replica_ack_timeout_ms + 999) / 1000;
    redisReply *r;
    long long got;

    if (c->replica_acks <= 0)
        return 0;
    snprintf(acks, sizeof(acks), "%d", c->replica_acks);
    snprintf(ms, sizeof(ms), "%d", c->replica_ack_timeout_ms);
    r = bp_conn_blocking_argv(c, 3, argv, NULL, block_s, -1, err);
    if (r == NULL) {
        if (err != NULL && err->kind == BP_ERR_REPLY)
            err->kind = BP_ERR_IO;
        c->broken = true;
        return -1;
    }
    got = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (got >= c->replica_acks)
        return 0;
    bp_err_set(err, BP_ERR_IO, 0,
               "only %lld of %d replicas of '%s' acknowledged the write within %d ms "
               "(redis.replica_acks, redis.replica_ack_timeout_ms); not counted as done",
               got, c->replica_acks, c->url, c->replica_ack_timeout_ms);
    c->broken = true;
    return -1;
}

bool bp_conn_has_pending(const bp_conn *c)
{
    if (c->cluster != NULL) {
        bp_conn *h = bp_cluster_home((bp_conn *)(uintptr_t)c);

        return h != NULL && bp_conn_has_pending(h);
    }
    if (c->ssl != NULL && SSL_has_pending(c->ssl))
        return true;
    return c->reader->pos < c->reader->len;
}

bool bp_conn_ok(const bp_conn *c)
{
    if (c != NULL && c->cluster != NULL && !c->broken) {
        bp_conn *h = bp_cluster_home((bp_conn *)(uintptr_t)c);

        return h != NULL && bp_conn_ok(h);
    }
    return c != NULL && !c->broken;
}

int bp_conn_fd(const bp_conn *c)
{
    if (c->cluster != NULL) {
        bp_conn *h = bp_cluster_home((bp_conn *)(uintptr_t)c);

        return h != NULL ? h->fd : -1;
    }
    return c->fd;
}

void bp_conn_node(const bp_conn *c, char *buf, size_t len)
{
    if (c->cluster != NULL) {
        bp_cluster_node_addr(c, -1, buf, len);
        return;
    }
    if (c->host[0] == '\0')
        snprintf(buf, len, "%s", c->url); /* "unix:///run/redis.sock" */
    else
        snprintf(buf, len, "%s:%d", c->host, c->port);
}

int bp_conn_servers(const bp_conn *c, int i, char *buf, size_t len)
{
    if (c->cluster != NULL)
        return bp_cluster_node_addr(c, i, buf, len);
    if (i == 0)
        bp_conn_node(c, buf, len);
    else if (len > 0)
        buf[0] = '\0';
    return 1;
}

const char *bp_conn_describe(const bp_conn *c)
{
    return c->desc;
}

void bp_conn_io_free(bp_conn *c)
{
    if (c->watched)
        bp_topology_forget(c); /* before close(): the fd number must not be reused meanwhile */
    if (c->fd >= 0)
        close(c->fd);
    SSL_free(c->ssl);
    if (c->reader != NULL)
        redisReaderFree(c->reader);
    free(c->obuf);
    free(c);
}

void bp_conn_close(bp_conn *c)
{
    if (c == NULL)
        return;
    if (c->cluster != NULL) {
        bp_cluster_free(c->cluster, false);
        c->cluster = NULL;
    }
    if (c->ssl != NULL && !c->broken) {
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* send close_notify once; do not wait for the peer's */
        ERR_clear_error();
    }
    bp_conn_io_free(c);
}

void bp_conn_abandon(bp_conn *c)
{
    if (c == NULL)
        return;
    if (c->cluster != NULL) {
        bp_cluster_free(c->cluster, true);
        c->cluster = NULL;
    }
    /* close the fd first: whatever SSL_free might do, nothing can reach the socket */
    if (c->watched)
        bp_topology_forget(c);
    c->watched = false;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->ssl != NULL)
        SSL_set_quiet_shutdown(c->ssl, 1);
    bp_conn_io_free(c);
}
