/* fuzz_conn.c -- libFuzzer target for bp_conn facing a hostile or broken server: the input
 * (after one control byte) is everything the "server" sends, byte for byte, on a Unix
 * socket. The client side is the real bp_conn: bp_conn_open() with its handshake round trip
 * (PING, or AUTH / SELECT / CLIENT SETNAME as the control byte asks), then commands until
 * the connection reports an error. Whatever arrives -- short replies, error replies, huge
 * lengths, deep nesting, garbage, EOF mid-reply -- must end in a reply or a clean error
 * with a message, never a crash, a hang or a leak. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bp_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int listen_fd = -1;       /* the fake server's listening socket */
static char sock_path[108];      /* its path */
static const uint8_t *serve_buf; /* what the server sends this round */
static size_t serve_len;         /* bytes in serve_buf */

static void fuzz_conn_cleanup(void)
{
    if (sock_path[0] != '\0')
        unlink(sock_path);
}

static int fuzz_conn_init(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    signal(SIGPIPE, SIG_IGN);
    snprintf(sock_path, sizeof sock_path, "/tmp/bp_fuzz_conn.%ld.sock", (long)getpid());
    unlink(sock_path);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(listen_fd, 4) != 0)
        return -1;
    atexit(fuzz_conn_cleanup);
    return 0;
}

/* One connection: send the whole input, close the write side, drain until the client
 * closes. */
static void *serve(void *arg)
{
    char sink[4096];
    int fd = accept(listen_fd, NULL, NULL);
    size_t off = 0;

    (void)arg;
    if (fd < 0)
        return NULL;
    while (off < serve_len) {
        ssize_t n = write(fd, serve_buf + off, serve_len - off);

        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    while (read(fd, sink, sizeof sink) > 0)
        ;
    close(fd);
    return NULL;
}

/* True when the bytes announce an array of more than 1,000,000 elements: hiredis 0.14 callocs
 * the element table up front (no maxelements before hiredis 1.0), so "*700000000\r\n" is a
 * 5.6 GB allocation in the reader, not in bullpen's code; such inputs are skipped. */
static int huge_array(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned long long v = 0;
        size_t j = i + 1;

        if (p[i] != '*')
            continue;
        while (j < n && p[j] >= '0' && p[j] <= '9' && v <= 1000000)
            v = v * 10 + (unsigned long long)(p[j++] - '0');
        if (v > 1000000)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char user[] = "fuzzer", pass[] = "secret";
    bp_redis_config rc;
    bp_conn *c = NULL;
    pthread_t server;
    bp_err err;

    if (size == 0 || huge_array(data, size))
        return 0;
    if (!ready) {
        if (fuzz_conn_init() != 0)
            abort();
        ready = 1;
    }
    memset(&rc, 0, sizeof rc);
    rc.transport = BP_TRANSPORT_UNIX;
    rc.unix_path = sock_path;
    rc.url_redacted = sock_path;
    rc.connect_timeout_ms = 1000;
    rc.command_timeout_ms = 1000;
    rc.username = (data[0] & 1) ? user : NULL;
    rc.password = (data[0] & 2) ? pass : NULL;
    rc.db = (data[0] & 4) ? 3 : 0;
    serve_buf = data + 1;
    serve_len = size - 1;
    if (pthread_create(&server, NULL, serve, NULL) != 0)
        return 0;
    memset(&err, 0, sizeof err);
    if (bp_conn_open(&c, &rc, NULL, (data[0] & 8) ? "fuzz" : NULL, &err) == 0) {
        for (int i = 0; i < 8 && bp_conn_ok(c); i++) {
            redisReply *r = bp_conn_command(c, &err, "PING");

            if (r != NULL)
                freeReplyObject(r);
            else if (err.msg[0] == '\0' && err.kind != BP_ERR_REPLY)
                abort(); /* a failure says why (an empty "-\r\n" error reply has no text) */
        }
        bp_conn_close(c);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    pthread_join(server, NULL);
    return 0;
}
