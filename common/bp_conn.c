/* bp_conn.c -- one Redis connection: socket, optional TLS, RESP formatting and parsing.
 *
 * The only file that touches sockets, SSL objects and the hiredis reader. Design:
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
 * - TLS runs over our own BIO that sends with MSG_NOSIGNAL: a write to a dead peer is an
 *   EPIPE error, never a SIGPIPE, even in a process that forgot to ignore it.
 * - Any failure other than an error reply marks the connection broken (bp_conn_ok() false):
 *   the reader's errors are sticky and a timed-out or interrupted command leaves a reply in
 *   flight, so the only safe next step is to close and reopen.
 * - bp_conn_abandon() is for a child after fork(): close the fd first, then free the SSL,
 *   so not a byte (no close_notify) reaches the parent's session. */
#include "bp_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bp_log.h"
#include "bp_time.h"

#define BP_CONN_READ_BUF      (64 * 1024) /* one recv() takes a whole burst of pipelined replies */
#define BP_CONN_OBUF_KEEP     (64 * 1024) /* shrink the output buffer back after a big pipeline */
#define BP_CONN_KEEPCNT       3           /* keepalive probes before the kernel gives up */
#define BP_CONN_OPEN_MAX_CMDS 4           /* AUTH, SELECT, CLIENT SETNAME or PING */

struct bp_conn {
    int fd;                      /* non-blocking, close-on-exec socket */
    SSL *ssl;                    /* NULL for plain TCP and unix sockets */
    redisReader *reader;         /* hiredis RESP parser; its errors are sticky */
    bool broken;                 /* a transport/protocol error happened: close and reopen */
    bool verified;               /* TLS peer certificate and name were verified */
    int first_byte;              /* first byte the server sent, -1 before any (TLS-vs-plain hint) */
    int command_timeout_ms;      /* from bp_redis_config */
    long pending;                /* replies appended but not read yet */
    char *obuf;                  /* formatted commands not written yet */
    size_t olen;                 /* bytes in obuf */
    size_t osent;                /* bytes of obuf already written */
    size_t ocap;                 /* allocated size of obuf */
    char url[300];               /* "rediss://localhost:6380", for messages */
    char desc[768];              /* bp_conn_describe() text */
    char ibuf[BP_CONN_READ_BUF]; /* read buffer, fed to the reader */
};

/* ---- a socket BIO that never raises SIGPIPE ---------------------------------------- */

static BIO_METHOD *conn_bio_method;
static pthread_once_t conn_bio_once = PTHREAD_ONCE_INIT;

static int conn_bio_fd(BIO *b)
{
    return (int)(intptr_t)BIO_get_data(b);
}

static int conn_bio_write(BIO *b, const char *buf, int len)
{
    ssize_t n;

    BIO_clear_retry_flags(b);
    n = send(conn_bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int conn_bio_read(BIO *b, char *buf, int len)
{
    ssize_t n;

    BIO_clear_retry_flags(b);
    n = recv(conn_bio_fd(b), buf, (size_t)len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    else if (n == 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* lets OpenSSL report "unexpected eof" */
    return (int)n;
}

static long conn_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_EOF:
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    default:
        return 0;
    }
}

static int conn_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void conn_bio_init_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bp_conn socket");

    if (m == NULL)
        return;
    BIO_meth_set_write(m, conn_bio_write);
    BIO_meth_set_read(m, conn_bio_read);
    BIO_meth_set_ctrl(m, conn_bio_ctrl);
    BIO_meth_set_create(m, conn_bio_create);
    conn_bio_method = m; /* lives as long as the process */
}

/* ---- small helpers ------------------------------------------------------------------ */

static void conn_break(bp_conn *c)
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
static int conn_wait(bp_conn *c, short events, int wake_fd, int64_t deadline, const char *what,
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
            conn_break(c);
            return -1;
        }
        if (n == 0)
            continue; /* re-check the deadline */
        if (pfd[0].revents != 0)
            return 0; /* data wins over a wake-up: a moved job must not be left behind */
        if (wake_fd >= 0 && pfd[1].revents != 0) {
            bp_err_set(err, BP_ERR_WOKEN, 0, "wait for '%s' interrupted", c->url);
            conn_break(c);
            return -1;
        }
    }
    bp_err_set(err, BP_ERR_TIMEOUT, ETIMEDOUT, "%s '%s' timed out after %d ms", what, c->url,
               timeout_ms);
    conn_break(c);
    return -1;
}

/* A hint for the OpenSSL reason behind a failed TLS read/handshake, and whether the
 * reason means "fix the configuration". */
static const char *conn_ssl_hint(unsigned long e, bool *config)
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
    conn_break(c);
}

/* Read what is available into the reader. Returns 1 when bytes were fed, 0 when the read
 * would block (*want is set to the poll events to wait for), -1 on error (err set). */
static int conn_read_some(bp_conn *c, short *want, bp_err *err)
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
                conn_break(c);
                return -1;
            default: {
                unsigned long first = ERR_peek_error();
                bool config;
                const char *hint = conn_ssl_hint(first, &config);

                if (ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                    ERR_clear_error();
                    conn_set_eof(c, err);
                    return -1;
                }
                bp_err_set_ssl(err, config ? BP_ERR_CONFIG : BP_ERR_IO,
                               "TLS error reading from '%s'", c->url);
                if (err != NULL && hint[0] != '\0')
                    strncat(err->msg, hint, sizeof(err->msg) - strlen(err->msg) - 1);
                conn_break(c);
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
            conn_break(c);
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
        conn_break(c);
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
            conn_break(c);
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
        conn_break(c);
        return -1;
    }
}

/* Write the whole output buffer before deadline. */
static int conn_flush_until(bp_conn *c, int64_t deadline, int timeout_ms, bp_err *err)
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
        if (conn_wait(c, want, -1, deadline, "writing to", timeout_ms, err) != 0)
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
static int conn_get_reply(bp_conn *c, redisReply **out, int wake_fd, int64_t deadline,
                          int timeout_ms, bp_err *err)
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
            conn_break(c);
            return -1;
        }
        if (reply != NULL) {
            *out = reply;
            return 0;
        }
        r = conn_read_some(c, &want, err);
        if (r < 0)
            return -1;
        if (r == 0 &&
            conn_wait(c, want, wake_fd, deadline, "waiting for a reply from", timeout_ms, err) != 0)
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

static int conn_append_raw_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                                bp_err *err)
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

/* ---- public: commands ---------------------------------------------------------------- */

int bp_conn_append(bp_conn *c, bp_err *err, const char *fmt, ...)
{
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
    if (conn_check_usable(c, err) != 0)
        return -1;
    return conn_append_raw_argv(c, argc, argv, argvlen, err);
}

int bp_conn_flush(bp_conn *c, bp_err *err)
{
    if (conn_check_usable(c, err) != 0)
        return -1;
    return conn_flush_until(c, conn_deadline(c->command_timeout_ms), c->command_timeout_ms, err);
}

int bp_conn_read_reply(bp_conn *c, redisReply **out, int timeout_ms, int wake_fd, bp_err *err)
{
    int64_t deadline;
    redisReply *reply = NULL;
    bp_err local;

    if (err == NULL)
        err = &local; /* the kind decides below whether the connection survives */
    if (conn_check_usable(c, err) != 0)
        return -1;
    if (timeout_ms < 0)
        timeout_ms = c->command_timeout_ms;
    deadline = conn_deadline(timeout_ms);
    if (conn_flush_until(c, deadline, timeout_ms, err) != 0)
        return -1;
    if (conn_get_reply(c, &reply, wake_fd, deadline, timeout_ms, err) != 0) {
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
    *out = reply;
    return 0;
}

/* Send what is queued (one command) and wait for its reply; error replies become NULL
 * with kind BP_ERR_REPLY and the error text as the message. */
static redisReply *conn_roundtrip(bp_conn *c, int wake_fd, int64_t deadline, int timeout_ms,
                                  bp_err *err)
{
    redisReply *reply = NULL;

    if (conn_flush_until(c, deadline, timeout_ms, err) != 0)
        return NULL;
    if (conn_get_reply(c, &reply, wake_fd, deadline, timeout_ms, err) != 0)
        return NULL;
    c->pending--;
    if (reply->type == REDIS_REPLY_ERROR) {
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

redisReply *bp_conn_command(bp_conn *c, bp_err *err, const char *fmt, ...)
{
    va_list ap;
    int rv;

    if (conn_check_idle(c, err) != 0)
        return NULL;
    va_start(ap, fmt);
    rv = conn_append_vfmt(c, err, fmt, ap);
    va_end(ap);
    if (rv != 0)
        return NULL;
    return conn_roundtrip(c, -1, conn_deadline(c->command_timeout_ms), c->command_timeout_ms, err);
}

redisReply *bp_conn_command_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                                 bp_err *err)
{
    if (conn_check_idle(c, err) != 0)
        return NULL;
    if (conn_append_raw_argv(c, argc, argv, argvlen, err) != 0)
        return NULL;
    return conn_roundtrip(c, -1, conn_deadline(c->command_timeout_ms), c->command_timeout_ms, err);
}

redisReply *bp_conn_blocking_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                                  int block_s, int wake_fd, bp_err *err)
{
    int timeout_ms = -1;

    if (conn_check_idle(c, err) != 0)
        return NULL;
    if (conn_append_raw_argv(c, argc, argv, argvlen, err) != 0)
        return NULL;
    if (block_s > 0) /* 0 blocks forever in Redis: then only wake_fd ends the wait */
        timeout_ms = block_s * 1000 + c->command_timeout_ms;
    return conn_roundtrip(c, wake_fd, conn_deadline(timeout_ms), timeout_ms, err);
}

bool bp_conn_has_pending(const bp_conn *c)
{
    if (c->ssl != NULL && SSL_has_pending(c->ssl))
        return true;
    return c->reader->pos < c->reader->len;
}

bool bp_conn_ok(const bp_conn *c)
{
    return c != NULL && !c->broken;
}

int bp_conn_fd(const bp_conn *c)
{
    return c->fd;
}

const char *bp_conn_describe(const bp_conn *c)
{
    return c->desc;
}

/* ---- opening ------------------------------------------------------------------------ */

static bool conn_is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void conn_set_url(bp_conn *c, const bp_redis_config *rc)
{
    if (rc->transport == BP_TRANSPORT_UNIX) {
        snprintf(c->url, sizeof(c->url), "unix://%s", rc->unix_path);
        return;
    }
    snprintf(c->url, sizeof(c->url), strchr(rc->host, ':') != NULL ? "%s://[%s]:%d" : "%s://%s:%d",
             rc->transport == BP_TRANSPORT_TLS ? "rediss" : "redis", rc->host, rc->port);
}

static void conn_tune_tcp(int fd, const bp_redis_config *rc)
{
    int one = 1;

    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        bp_log_debug("setsockopt TCP_NODELAY: %s", strerror(errno));
    if (rc->keepalive_s > 0) {
        int idle = rc->keepalive_s;
        int intvl = idle / 3 > 0 ? idle / 3 : 1;
        int cnt = BP_CONN_KEEPCNT;
        /* unacknowledged data is given up on as late as an idle peer would be */
        unsigned int user_timeout = (unsigned int)(idle + intvl * cnt) * 1000u;

        if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout)) != 0)
            bp_log_debug("setsockopt keepalive: %s", strerror(errno));
    }
}

/* Finish a non-blocking connect() on c->fd. Returns 0, -1 when the wait failed (err set:
 * timeout), or an errno value > 0 when the connection was refused or unreachable. */
static int conn_finish_connect(bp_conn *c, int64_t deadline, int timeout_ms, bp_err *err)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (conn_wait(c, POLLOUT, -1, deadline, "connecting to", timeout_ms, err) != 0)
        return -1;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    return soerr;
}

static int conn_connect_unix(bp_conn *c, const bp_redis_config *rc, int64_t deadline,
                             int timeout_ms, bp_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(rc->unix_path) >= sizeof(sa.sun_path)) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "unix socket path '%s' is too long (at most %zu bytes); check redis.url",
                   rc->unix_path, sizeof(sa.sun_path) - 1);
        return -1;
    }
    memcpy(sa.sun_path, rc->unix_path, strlen(rc->unix_path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e, "cannot create a unix socket: %s", strerror(e));
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;

        if (e != EINPROGRESS && e != EAGAIN) {
            bp_err_set(err, BP_ERR_IO, e,
                       "cannot connect to '%s': %s; check that Redis is running and its "
                       "unixsocket matches redis.url",
                       c->url, strerror(e));
            return -1;
        }
        e = conn_finish_connect(c, deadline, timeout_ms, err);
        if (e < 0)
            return -1;
        if (e > 0) {
            bp_err_set(err, BP_ERR_IO, e, "cannot connect to '%s': %s", c->url, strerror(e));
            return -1;
        }
    }
    return 0;
}

static int conn_connect_tcp(bp_conn *c, const bp_redis_config *rc, int64_t deadline, int timeout_ms,
                            bp_err *err)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    char addr[INET6_ADDRSTRLEN] = "?";
    int rv, last_errno = 0;

    snprintf(port, sizeof(port), "%d", rc->port);
    rv = getaddrinfo(rc->host, port, &hints, &res);
    if (rv != 0) {
        int e = rv == EAI_SYSTEM ? errno : 0;
        bp_err_set(err, BP_ERR_IO, e, "cannot resolve '%s': %s; check the host in redis.url",
                   rc->host, rv == EAI_SYSTEM ? strerror(e) : gai_strerror(rv));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return 0;
        }
        last_errno = errno;
        if (last_errno == EINPROGRESS) {
            /* an address that black-holes us may use only half of what is left, so a
             * broken IPv6 route still leaves time for the IPv4 address after it */
            int64_t now = bp_mono_ms();
            int64_t until = ai->ai_next != NULL ? now + (deadline - now) / 2 : deadline;
            int e = conn_finish_connect(c, until, timeout_ms, err);

            if (e == 0) {
                freeaddrinfo(res);
                return 0;
            }
            if (e < 0 && err->kind != BP_ERR_TIMEOUT) {
                freeaddrinfo(res); /* poll itself failed: err says why */
                return -1;
            }
            c->broken = false; /* the next address starts clean */
            last_errno = e < 0 ? ETIMEDOUT : e;
        }
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    if (last_errno == ETIMEDOUT) {
        bp_err_set(err, BP_ERR_TIMEOUT, ETIMEDOUT,
                   "cannot connect to '%s' (%s): timed out after %d ms "
                   "(redis.connect_timeout_ms); check the host, port and firewall",
                   c->url, addr, timeout_ms);
        return -1;
    }
    bp_err_set(err, BP_ERR_IO, last_errno,
               "cannot connect to '%s' (%s): %s; check that Redis is running and the host and "
               "port in redis.url",
               c->url, addr, strerror(last_errno));
    return -1;
}

static void conn_describe_tls(bp_conn *c)
{
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    char cn[128] = "";

    if (peer != NULL) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
        X509_free(peer);
    }
    if (c->verified)
        snprintf(c->desc, sizeof(c->desc), "%s \xe2\x80\x94 %s, verified%s%s", c->url,
                 SSL_get_version(c->ssl), cn[0] != '\0' ? " CN=" : "", cn);
    else
        snprintf(c->desc, sizeof(c->desc), "%s \xe2\x80\x94 %s, unverified", c->url,
                 SSL_get_version(c->ssl));
}

static int conn_tls_handshake(bp_conn *c, const bp_redis_config *rc, SSL_CTX *ctx, int64_t deadline,
                              int timeout_ms, bp_err *err)
{
    const char *name = rc->tls.server_name != NULL && rc->tls.server_name[0] != '\0'
                           ? rc->tls.server_name
                           : rc->host;
    bool is_ip = conn_is_ip_literal(name);
    bool verify = (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) != 0;
    BIO *bio;

    pthread_once(&conn_bio_once, conn_bio_init_method);
    ERR_clear_error();
    if (conn_bio_method == NULL || (c->ssl = SSL_new(ctx)) == NULL) {
        bp_err_set_ssl(err, BP_ERR_IO, "cannot create a TLS session for '%s'", c->url);
        return -1;
    }
    bio = BIO_new(conn_bio_method);
    if (bio == NULL) {
        bp_err_set_ssl(err, BP_ERR_IO, "cannot create a TLS socket BIO for '%s'", c->url);
        return -1;
    }
    BIO_set_data(bio, (void *)(intptr_t)c->fd);
    SSL_set_bio(c->ssl, bio, bio); /* the SSL owns the BIO; the BIO does not own the fd */
    if (!is_ip && SSL_set_tlsext_host_name(c->ssl, name) != 1) {
        bp_err_set_ssl(err, BP_ERR_CONFIG, "cannot use '%s' as TLS server name", name);
        return -1;
    }
    if (verify) {
        /* SNI is not verification: check the certificate against the name or IP */
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name)
                       : SSL_set1_host(c->ssl, name);
        if (ok != 1) {
            bp_err_set_ssl(err, BP_ERR_CONFIG,
                           "cannot verify against server name '%s'; check redis.tls.server_name",
                           name);
            return -1;
        }
        SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
    }
    for (;;) {
        int rv, e, saved;

        ERR_clear_error();
        errno = 0;
        rv = SSL_connect(c->ssl);
        if (rv == 1)
            break;
        saved = errno;
        e = SSL_get_error(c->ssl, rv);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (conn_wait(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, -1, deadline,
                          "TLS handshake with", timeout_ms, err) != 0) {
                if (err != NULL && err->kind == BP_ERR_TIMEOUT)
                    bp_err_set(err, BP_ERR_TIMEOUT, ETIMEDOUT,
                               "TLS handshake with '%s' timed out after %d ms "
                               "(redis.connect_timeout_ms); is it a TLS port? check the port "
                               "and the scheme in redis.url",
                               c->url, timeout_ms);
                return -1;
            }
            continue;
        }
        if (e == SSL_ERROR_SSL && verify && SSL_get_verify_result(c->ssl) != X509_V_OK) {
            long vr = SSL_get_verify_result(c->ssl);
            bool name_err =
                vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH;

            ERR_clear_error();
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "TLS handshake with '%s' failed: certificate verify failed: %s; check %s",
                       c->url, X509_verify_cert_error_string(vr),
                       name_err ? "redis.tls.server_name and the host in redis.url"
                                : "redis.tls.ca_file");
            return -1;
        }
        if (e == SSL_ERROR_SSL) {
            unsigned long first = ERR_peek_error();
            bool config;
            const char *hint = conn_ssl_hint(first, &config);

            if (ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                ERR_clear_error();
                bp_err_set(err, BP_ERR_IO, 0,
                           "TLS handshake with '%s' failed: connection closed by the server; "
                           "is it a TLS port? check the port and the scheme in redis.url",
                           c->url);
                return -1;
            }
            bp_err_set_ssl(err, config ? BP_ERR_CONFIG : BP_ERR_IO,
                           "TLS handshake with '%s' failed", c->url);
            if (err != NULL && hint[0] != '\0')
                strncat(err->msg, hint, sizeof(err->msg) - strlen(err->msg) - 1);
            return -1;
        }
        ERR_clear_error();
        if (saved != 0)
            bp_err_set(err, BP_ERR_IO, saved, "TLS handshake with '%s' failed: %s", c->url,
                       strerror(saved));
        else
            bp_err_set(err, BP_ERR_IO, 0,
                       "TLS handshake with '%s' failed: connection closed by the server; is it "
                       "a TLS port? check the port and the scheme in redis.url",
                       c->url);
        return -1;
    }
    c->verified = verify;
    conn_describe_tls(c);
    return 0;
}

/* Turn an error reply to one of the opening commands into a helpful error. */
static void conn_open_reply_error(bp_conn *c, const bp_redis_config *rc, const char *cmd,
                                  const redisReply *r, bp_err *err)
{
    int len = (int)r->len;
    const char *s = r->str;

    if (len > 0 && s[len - 1] == '.')
        len--; /* our message goes on after it */

    if (strncmp(s, "LOADING", 7) == 0 || strncmp(s, "ERR max number of clients", 25) == 0 ||
        strncmp(s, "BUSY", 4) == 0 || strncmp(s, "MASTERDOWN", 10) == 0) {
        bp_err_set(err, BP_ERR_IO, 0, "'%s' is not ready: %.*s", c->url, len, s);
    } else if (strncmp(s, "NOAUTH", 6) == 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "'%s' requires a password: %.*s; set redis.password or redis.password_file",
                   c->url, len, s);
    } else if (strcmp(cmd, "AUTH") == 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "AUTH%s%s to '%s' failed: %.*s; check redis.password / redis.password_file "
                   "(and the user name in redis.url)",
                   rc->username != NULL && rc->username[0] != '\0' ? " as " : "",
                   rc->username != NULL ? rc->username : "", c->url, len, s);
    } else if (strcmp(cmd, "SELECT") == 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "SELECT %d on '%s' failed: %.*s; check the database number in redis.url", rc->db,
                   c->url, len, s);
    } else {
        bp_err_set(err, BP_ERR_CONFIG, 0, "%s on '%s' failed: %.*s", cmd, c->url, len, s);
    }
}

/* AUTH, SELECT, CLIENT SETNAME (or PING when none applies), pipelined: one round trip. */
static int conn_handshake_commands(bp_conn *c, const bp_redis_config *rc, const char *name,
                                   int64_t deadline, int timeout_ms, bp_err *err)
{
    const char *sent[BP_CONN_OPEN_MAX_CMDS];
    int n = 0, rv = 0;
    char db[16];

    if (rc->password != NULL && rc->password[0] != '\0') {
        if (rc->username != NULL && rc->username[0] != '\0') {
            const char *argv[] = {"AUTH", rc->username, rc->password};
            rv |= conn_append_raw_argv(c, 3, argv, NULL, err);
        } else {
            const char *argv[] = {"AUTH", rc->password};
            rv |= conn_append_raw_argv(c, 2, argv, NULL, err);
        }
        sent[n++] = "AUTH";
    }
    if (rc->db != 0) {
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", rc->db);
        rv |= conn_append_raw_argv(c, 2, argv, NULL, err);
        sent[n++] = "SELECT";
    }
    if (name != NULL) {
        const char *argv[] = {"CLIENT", "SETNAME", name};
        rv |= conn_append_raw_argv(c, 3, argv, NULL, err);
        sent[n++] = "CLIENT SETNAME";
    }
    if (n == 0) { /* prove the server speaks RESP to us before declaring success */
        const char *argv[] = {"PING"};
        rv |= conn_append_raw_argv(c, 1, argv, NULL, err);
        sent[n++] = "PING";
    }
    if (rv != 0)
        return -1;
    if (conn_flush_until(c, deadline, timeout_ms, err) != 0) {
        /* TLS 1.3: a server that rejects our client certificate sends an alert after the
         * handshake and closes; our write then fails with EPIPE/ECONNRESET, but the alert
         * may still sit in the socket buffer and says much better what is wrong. */
        bp_err alert = {0};
        short want = 0;

        if (c->ssl != NULL && err->kind == BP_ERR_IO && conn_read_some(c, &want, &alert) < 0 &&
            alert.kind == BP_ERR_CONFIG)
            *err = alert;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;

        if (conn_get_reply(c, &r, -1, deadline, timeout_ms, err) != 0) {
            if (err != NULL && err->kind == BP_ERR_IO && c->first_byte < 0 && c->ssl == NULL &&
                rc->transport == BP_TRANSPORT_TCP)
                strncat(err->msg,
                        "; the server hung up before answering: is it a TLS port? use rediss:// in "
                        "redis.url",
                        sizeof(err->msg) - strlen(err->msg) - 1);
            return -1;
        }
        c->pending--;
        if (r->type == REDIS_REPLY_ERROR &&
            !(strcmp(sent[i], "CLIENT SETNAME") == 0 && strncmp(r->str, "NOAUTH", 6) != 0)) {
            /* the first error wins: a failed AUTH explains the NOAUTH errors after it */
            conn_open_reply_error(c, rc, sent[i], r, err);
            freeReplyObject(r);
            conn_break(c);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR)
            bp_log_debug("CLIENT SETNAME on '%s' ignored: %.*s", c->url, (int)r->len, r->str);
        freeReplyObject(r);
    }
    return 0;
}

static void conn_free(bp_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    SSL_free(c->ssl);
    if (c->reader != NULL)
        redisReaderFree(c->reader);
    free(c->obuf);
    free(c);
}

int bp_conn_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                 bp_err *err)
{
    int timeout_ms = rc->connect_timeout_ms > 0 ? rc->connect_timeout_ms : 2000;
    int64_t deadline = bp_mono_ms() + timeout_ms;
    bp_err local;
    bp_conn *c;

    if (err == NULL)
        err = &local; /* the steps below look at err->kind */
    bp_err_clear(err);
    c = calloc(1, sizeof(*c));

    if (c == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory opening a Redis connection");
        return -1;
    }
    c->fd = -1;
    c->first_byte = -1;
    c->command_timeout_ms = rc->command_timeout_ms > 0 ? rc->command_timeout_ms : 5000;
    c->reader = redisReaderCreate();
    if (c->reader == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory opening a Redis connection");
        goto out_free;
    }
    if (rc->transport == BP_TRANSPORT_UNIX) {
        if (rc->unix_path == NULL) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "unix:// URL without a socket path in redis.url");
            goto out_free;
        }
        conn_set_url(c, rc);
        if (conn_connect_unix(c, rc, deadline, timeout_ms, err) != 0)
            goto out_free;
    } else {
        if (rc->host == NULL) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "no host in redis.url");
            goto out_free;
        }
        conn_set_url(c, rc);
        if (conn_connect_tcp(c, rc, deadline, timeout_ms, err) != 0)
            goto out_free;
        conn_tune_tcp(c->fd, rc);
    }
    snprintf(c->desc, sizeof(c->desc), "%s", c->url);
    if (rc->transport == BP_TRANSPORT_TLS) {
        if (tls_ctx == NULL) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "'%s' needs TLS but no TLS context was built",
                       c->url);
            goto out_free;
        }
        if (conn_tls_handshake(c, rc, tls_ctx, deadline, timeout_ms, err) != 0)
            goto out_free;
    }
    if (conn_handshake_commands(c, rc, name, deadline, timeout_ms, err) != 0)
        goto out_free;
    *out = c; /* caller owns it: bp_conn_close() */
    return 0;

out_free:
    conn_free(c);
    return -1;
}

void bp_conn_close(bp_conn *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL && !c->broken) {
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* send close_notify once; do not wait for the peer's */
        ERR_clear_error();
    }
    conn_free(c);
}

void bp_conn_abandon(bp_conn *c)
{
    if (c == NULL)
        return;
    /* close the fd first: whatever SSL_free might do, nothing can reach the socket */
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->ssl != NULL)
        SSL_set_quiet_shutdown(c->ssl, 1);
    conn_free(c);
}
