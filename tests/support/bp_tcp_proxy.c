/* bp_tcp_proxy.c -- a loopback TCP proxy for the chaos tests: it stands between bullpen and
 * redis-server and can cut or black-hole every connection on command, so a test can break
 * the network without touching either side.
 *
 *   bp_tcp_proxy -t TARGET_PORT [-l LISTEN_PORT] [-p PORT_FILE]
 *
 * It listens on 127.0.0.1:LISTEN_PORT (0 = any free port, written to PORT_FILE once it
 * listens) and forwards every accepted connection to 127.0.0.1:TARGET_PORT, byte for byte
 * (TLS passes through untouched: the proxy never looks inside). Modes, switched by signals:
 *
 *   SIGHUP   pass       forward (the start mode). Connections that were black-holed are
 *                       closed: their streams lost bytes and cannot be resumed.
 *   SIGUSR1  cut        close every connection at once; new ones are accepted and closed
 *                       immediately (a server that resets everything).
 *   SIGUSR2  blackhole  keep every connection open, read and discard what either side
 *                       sends, answer nothing; new connections are accepted and swallowed
 *                       the same way (a network partition: no RST, no FIN, just silence).
 *   SIGTERM / SIGINT    exit 0.
 *
 * Each mode change and each connection count goes to stderr as one line. The proxy is
 * single-threaded: one poll() loop over the listener, a self-pipe for signals and the
 * socket pairs, with a fixed buffer per direction. It is a test tool, not production code:
 * loopback only, a bounded number of connections. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BP_PROXY_MAX_PAIRS 512   /* 16 workers x 3 roles + master + tools, with room */
#define BP_PROXY_BUF       65536 /* per direction; a full buffer stops reading that side */

typedef enum bp_proxy_mode { BP_PROXY_PASS, BP_PROXY_CUT, BP_PROXY_BLACKHOLE } bp_proxy_mode;

typedef struct bp_proxy_dir {
    char buf[BP_PROXY_BUF]; /* bytes read from one side, not yet written to the other */
    size_t len;             /* bytes in buf */
    size_t off;             /* bytes of buf already written */
} bp_proxy_dir;

typedef struct bp_proxy_pair {
    int client;             /* accepted socket, -1 when the slot is free */
    int upstream;           /* socket to the target, -1 while black-holed from the start */
    bool blackholed;        /* swallowed bytes: never forward again */
    bp_proxy_dir to_up;     /* client -> upstream */
    bp_proxy_dir to_client; /* upstream -> client */
} bp_proxy_pair;

static volatile sig_atomic_t pending_mode = -1; /* mode asked for by a signal */
static volatile sig_atomic_t pending_exit;      /* TERM or INT */
static int sig_pipe[2] = {-1, -1};              /* wakes poll() from the handler */

static void handle_signal(int signo)
{
    int saved_errno = errno;

    if (signo == SIGHUP)
        pending_mode = BP_PROXY_PASS;
    else if (signo == SIGUSR1)
        pending_mode = BP_PROXY_CUT;
    else if (signo == SIGUSR2)
        pending_mode = BP_PROXY_BLACKHOLE;
    else
        pending_exit = 1;
    (void)!write(sig_pipe[1], "x", 1);
    errno = saved_errno;
}

static const char *mode_name(bp_proxy_mode m)
{
    return m == BP_PROXY_PASS ? "pass" : m == BP_PROXY_CUT ? "cut" : "blackhole";
}

static void usage(void)
{
    fputs("usage: bp_tcp_proxy -t TARGET_PORT [-l LISTEN_PORT] [-p PORT_FILE]\n"
          "  signals: HUP pass, USR1 cut (close all), USR2 blackhole, TERM exit\n",
          stderr);
    exit(64);
}

static void pair_close(bp_proxy_pair *p)
{
    if (p->client >= 0)
        close(p->client);
    if (p->upstream >= 0)
        close(p->upstream);
    p->client = -1;
    p->upstream = -1;
    p->blackholed = false;
    p->to_up.len = p->to_up.off = 0;
    p->to_client.len = p->to_client.off = 0;
}

static int count_pairs(const bp_proxy_pair *pairs)
{
    int n = 0;

    for (int i = 0; i < BP_PROXY_MAX_PAIRS; i++)
        n += pairs[i].client >= 0;
    return n;
}

static int connect_upstream(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* blocking connect: loopback answers at once, accepted or refused */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void accept_one(int lfd, bp_proxy_pair *pairs, bp_proxy_mode mode, int target)
{
    int one = 1;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    bp_proxy_pair *slot = NULL;

    if (fd < 0)
        return;
    if (mode == BP_PROXY_CUT) {
        close(fd);
        return;
    }
    for (int i = 0; i < BP_PROXY_MAX_PAIRS && slot == NULL; i++)
        if (pairs[i].client < 0)
            slot = &pairs[i];
    if (slot == NULL) {
        fprintf(stderr, "bp_tcp_proxy: %d connections already open, refusing one\n",
                BP_PROXY_MAX_PAIRS);
        close(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    slot->client = fd;
    slot->upstream = -1;
    slot->blackholed = mode == BP_PROXY_BLACKHOLE;
    if (!slot->blackholed) {
        slot->upstream = connect_upstream(target);
        if (slot->upstream < 0) {
            fprintf(stderr, "bp_tcp_proxy: cannot connect to 127.0.0.1:%d: %s\n", target,
                    strerror(errno));
            pair_close(slot);
        }
    }
}

/* Move bytes from one socket to another through d. Returns -1 when the pair must close. */
static int pump(int from, int to, bp_proxy_dir *d, short rev_from, short rev_to)
{
    if (d->len == 0 && (rev_from & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(from, d->buf, sizeof d->buf);

        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        d->len = (size_t)n;
        d->off = 0;
        rev_to |= POLLOUT; /* try at once */
    }
    if (d->len > d->off && (rev_to & (POLLOUT | POLLERR))) {
        ssize_t n = send(to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);

        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        d->off += (size_t)n;
        if (d->off == d->len)
            d->len = d->off = 0;
    }
    return 0;
}

/* Read and throw away whatever fd has. Returns -1 when the peer closed. */
static int swallow(int fd)
{
    char sink[16384];
    ssize_t n = read(fd, sink, sizeof sink);

    if (n == 0)
        return -1;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    return 0;
}

static void set_mode(bp_proxy_pair *pairs, bp_proxy_mode *mode, bp_proxy_mode next)
{
    int closed = 0;
    int open = count_pairs(pairs);

    for (int i = 0; i < BP_PROXY_MAX_PAIRS; i++) {
        bp_proxy_pair *p = &pairs[i];

        if (p->client < 0)
            continue;
        if (next == BP_PROXY_CUT || (next == BP_PROXY_PASS && p->blackholed)) {
            pair_close(p);
            closed++;
        } else if (next == BP_PROXY_BLACKHOLE) {
            p->blackholed = true;
        }
    }
    fprintf(stderr, "bp_tcp_proxy: mode %s -> %s (%d connections open, %d closed)\n",
            mode_name(*mode), mode_name(next), open, closed);
    *mode = next;
}

static int listen_on(int port, int *bound)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t len = sizeof sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(sa.sin_port);
    return fd;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handle_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* One poll() round over the listener, the self-pipe and every pair. */
static void serve_round(int lfd, bp_proxy_pair *pairs, bp_proxy_mode mode, int target)
{
    static struct pollfd pfd[2 + 2 * BP_PROXY_MAX_PAIRS];
    static int who[2 + 2 * BP_PROXY_MAX_PAIRS]; /* pair index of each pollfd */
    nfds_t n = 0;

    pfd[n++] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
    pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
    for (int i = 0; i < BP_PROXY_MAX_PAIRS; i++) {
        bp_proxy_pair *p = &pairs[i];

        if (p->client < 0)
            continue;
        if (p->blackholed) {
            who[n] = i;
            pfd[n++] = (struct pollfd){.fd = p->client, .events = POLLIN};
            if (p->upstream >= 0) {
                who[n] = i;
                pfd[n++] = (struct pollfd){.fd = p->upstream, .events = POLLIN};
            }
            continue;
        }
        who[n] = i;
        pfd[n++] = (struct pollfd){
            .fd = p->client,
            .events = (short)((p->to_up.len == 0 ? POLLIN : 0) | (p->to_client.len ? POLLOUT : 0))};
        who[n] = i;
        pfd[n++] = (struct pollfd){
            .fd = p->upstream,
            .events = (short)((p->to_client.len == 0 ? POLLIN : 0) | (p->to_up.len ? POLLOUT : 0))};
    }
    if (poll(pfd, n, 1000) <= 0)
        return;
    if (pfd[0].revents & POLLIN) {
        char drain[64];

        while (read(sig_pipe[0], drain, sizeof drain) > 0)
            ;
    }
    for (nfds_t k = 2; k < n; k++) {
        bp_proxy_pair *p = &pairs[who[k]];
        int rc;

        if (p->client < 0)
            continue;
        if (p->blackholed) {
            if (pfd[k].revents != 0 && swallow(pfd[k].fd) < 0)
                pair_close(p);
            continue;
        }
        /* a forwarding pair: the client's pollfd is at k, the upstream's at k + 1 */
        if (pfd[k].fd != p->client || (pfd[k].revents | pfd[k + 1].revents) == 0)
            continue;
        rc = pump(p->client, p->upstream, &p->to_up, pfd[k].revents, pfd[k + 1].revents);
        if (rc == 0)
            rc = pump(p->upstream, p->client, &p->to_client, pfd[k + 1].revents, pfd[k].revents);
        if (rc < 0)
            pair_close(p);
    }
    if (pfd[1].revents & POLLIN)
        accept_one(lfd, pairs, mode, target);
}

int main(int argc, char **argv)
{
    static bp_proxy_pair pairs[BP_PROXY_MAX_PAIRS];
    const char *port_file = NULL;
    bp_proxy_mode mode = BP_PROXY_PASS;
    int listen_port = 0;
    int target = 0;
    int bound = 0;
    int lfd;
    int opt;

    while ((opt = getopt(argc, argv, "t:l:p:")) != -1) {
        if (opt == 't')
            target = atoi(optarg);
        else if (opt == 'l')
            listen_port = atoi(optarg);
        else if (opt == 'p')
            port_file = optarg;
        else
            usage();
    }
    if (target <= 0 || target > 65535 || listen_port < 0 || listen_port > 65535)
        usage();
    for (int i = 0; i < BP_PROXY_MAX_PAIRS; i++)
        pairs[i].client = pairs[i].upstream = -1;
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        fprintf(stderr, "bp_tcp_proxy: cannot make the signal pipe: %s\n", strerror(errno));
        return 70;
    }
    install_signals();
    lfd = listen_on(listen_port, &bound);
    if (lfd < 0) {
        fprintf(stderr, "bp_tcp_proxy: cannot listen on 127.0.0.1:%d: %s\n", listen_port,
                strerror(errno));
        return 69;
    }
    if (port_file != NULL) {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        f = fopen(tmp, "w");
        if (f == NULL || fprintf(f, "%d\n", bound) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) != 0) {
            fprintf(stderr, "bp_tcp_proxy: cannot write '%s': %s\n", port_file, strerror(errno));
            return 73;
        }
    }
    fprintf(stderr, "bp_tcp_proxy: 127.0.0.1:%d -> 127.0.0.1:%d, mode pass\n", bound, target);
    while (!pending_exit) {
        if (pending_mode >= 0) {
            bp_proxy_mode next = (bp_proxy_mode)pending_mode;

            pending_mode = -1;
            set_mode(pairs, &mode, next);
        }
        serve_round(lfd, pairs, mode, target);
    }
    for (int i = 0; i < BP_PROXY_MAX_PAIRS; i++)
        if (pairs[i].client >= 0)
            pair_close(&pairs[i]);
    close(lfd);
    return 0;
}
