/* bp_conn_open.c -- opening a Redis connection: resolve and connect (every address,
 * bounded by connect_timeout_ms), TCP tuning, the TLS handshake with name or IP
 * verification, then AUTH / SELECT / CLIENT SETNAME in one round trip.
 *
 * Every failure is classified for the caller's exit code: BP_ERR_CONFIG when the fix is in
 * the configuration (verification, AUTH, client certificate, TLS version, SELECT),
 * BP_ERR_IO / BP_ERR_TIMEOUT when the server could not be reached (refused, black hole,
 * hung up). A hang-up is never called a configuration error, even when a TLS/plain
 * mismatch is the likely cause (the message says so): a restarting Redis must not stop a
 * pool for good. TLS runs over our own BIO that sends with MSG_NOSIGNAL, so a write to a
 * dead peer is an EPIPE error, never a SIGPIPE, even in a process that forgot to ignore it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
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

#include "bp_conn.h"
#include "bp_conn_int.h"
#include "bp_log.h"
#include "bp_time.h"

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

/* ---- opening ------------------------------------------------------------------------ */

static bool conn_is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void conn_set_url(bp_conn *c, const bp_redis_config *rc)
{
    if (rc->host != NULL)
        snprintf(c->host, sizeof(c->host), "%s", rc->host);
    c->port = rc->port;
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

    if (bp_conn_io_wait(c, POLLOUT, -1, deadline, "connecting to", timeout_ms, err) != 0)
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
            if (bp_conn_io_wait(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, -1, deadline,
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
            const char *hint = bp_conn_io_ssl_hint(first, &config);

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
            rv |= bp_conn_io_append(c, 3, argv, NULL, err);
        } else {
            const char *argv[] = {"AUTH", rc->password};
            rv |= bp_conn_io_append(c, 2, argv, NULL, err);
        }
        sent[n++] = "AUTH";
    }
    if (rc->db != 0) {
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", rc->db);
        rv |= bp_conn_io_append(c, 2, argv, NULL, err);
        sent[n++] = "SELECT";
    }
    if (name != NULL) {
        const char *argv[] = {"CLIENT", "SETNAME", name};
        rv |= bp_conn_io_append(c, 3, argv, NULL, err);
        sent[n++] = "CLIENT SETNAME";
    }
    if (n == 0) { /* prove the server speaks RESP to us before declaring success */
        const char *argv[] = {"PING"};
        rv |= bp_conn_io_append(c, 1, argv, NULL, err);
        sent[n++] = "PING";
    }
    if (rv != 0)
        return -1;
    if (bp_conn_io_flush(c, deadline, timeout_ms, err) != 0) {
        /* TLS 1.3: a server that rejects our client certificate sends an alert after the
         * handshake and closes; our write then fails with EPIPE/ECONNRESET, but the alert
         * may still sit in the socket buffer and says much better what is wrong. */
        bp_err alert = {0};
        short want = 0;

        if (c->ssl != NULL && err->kind == BP_ERR_IO && bp_conn_io_read(c, &want, &alert) < 0 &&
            alert.kind == BP_ERR_CONFIG)
            *err = alert;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;

        if (bp_conn_io_reply(c, &r, -1, deadline, timeout_ms, err) != 0) {
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
            bp_conn_io_break(c);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR)
            bp_log_debug("CLIENT SETNAME on '%s' ignored: %.*s", c->url, (int)r->len, r->str);
        freeReplyObject(r);
    }
    return 0;
}

int bp_conn_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                 bp_err *err)
{
    return bp_conn_open_route(out, rc, tls_ctx, name, NULL, err);
}

int bp_conn_open_route(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                       const char *route, bp_err *err)
{
    if (rc->sentinel.master_name != NULL || rc->cluster.n_nodes > 0)
        return bp_topology_open(out, rc, tls_ctx, name, route, err);
    return bp_conn_open_node(out, rc, tls_ctx, name, err);
}

int bp_conn_open_node(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
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
    c->replica_acks = rc->replica_acks;
    c->replica_ack_timeout_ms = rc->replica_ack_timeout_ms > 0 ? rc->replica_ack_timeout_ms : 1000;
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
    bp_conn_io_free(c);
    return -1;
}
