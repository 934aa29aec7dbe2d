/* bp_conn_probe.c -- a small command-line driver of bp_conn for the shell tests and the
 * ping benchmark. It builds a bp_redis_config from flags (not from a config file, so it
 * exercises the connection layer alone), opens one connection and runs one scenario.
 *
 * On failure it prints one line "bp_conn_probe: <message>" on stderr and exits with
 * bp_err_exit_code() (78 configuration, 69 unavailable, 70 other); scenario checks that
 * fail exit 1. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "bp_conn.h"
#include "bp_scripts.h"
#include "bp_time.h"
#include "bp_tls.h"

typedef struct probe_opts {
    bp_redis_config rc; /* built from the flags */
    const char *name;   /* CLIENT SETNAME, NULL = none */
} probe_opts;

static void usage(void)
{
    fputs("usage: bp_conn_probe [--host H] [--port P] [--unix PATH] [--tls] [--ca FILE]\n"
          "         [--ca-dir DIR] [--cert FILE] [--key FILE] [--server-name N] [--no-verify]\n"
          "         [--min-tls 1.2|1.3] [--user U] [--pass P] [--db N] [--name NAME]\n"
          "         [--connect-timeout MS] [--command-timeout MS] [--keepalive S]\n"
          "         describe | cmd ARG... | ping N | pipeline N | bigvalue BYTES |\n"
          "         block KEY SECONDS | wake KEY MS | reconnect SECONDS | scripts |\n"
          "         fork abandon|close | subscribe CHANNEL\n",
          stderr);
    exit(64);
}

static int fail(const bp_err *err)
{
    fprintf(stderr, "bp_conn_probe: %s\n", err->msg);
    return bp_err_exit_code(err);
}

static void print_reply(const redisReply *r, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  ", stdout);
    switch (r->type) {
    case REDIS_REPLY_STRING:
        fprintf(stdout, "\"%.*s\"\n", (int)r->len, r->str);
        break;
    case REDIS_REPLY_STATUS:
        fprintf(stdout, "%.*s\n", (int)r->len, r->str);
        break;
    case REDIS_REPLY_ERROR:
        fprintf(stdout, "(error) %.*s\n", (int)r->len, r->str);
        break;
    case REDIS_REPLY_INTEGER:
        fprintf(stdout, "(integer) %lld\n", r->integer);
        break;
    case REDIS_REPLY_NIL:
        puts("(nil)");
        break;
    case REDIS_REPLY_ARRAY:
        fprintf(stdout, "(array %zu)\n", r->elements);
        for (size_t i = 0; i < r->elements; i++)
            print_reply(r->element[i], depth + 1);
        break;
    default:
        fprintf(stdout, "(type %d)\n", r->type);
    }
}

static int open_conn(const probe_opts *o, SSL_CTX *ctx, bp_conn **out, bp_err *err)
{
    return bp_conn_open(out, &o->rc, ctx, o->name, err);
}

static int run_cmd(bp_conn *c, int argc, char **argv)
{
    bp_err err = {0};
    const char **args = calloc((size_t)argc, sizeof(*args));
    redisReply *r;

    if (args == NULL)
        return 1;
    for (int i = 0; i < argc; i++)
        args[i] = argv[i];
    r = bp_conn_command_argv(c, argc, args, NULL, &err);
    free(args);
    if (r == NULL)
        return fail(&err);
    print_reply(r, 0);
    freeReplyObject(r);
    return 0;
}

static int run_ping(bp_conn *c, long n)
{
    bp_err err = {0};
    const char *argv[] = {"PING"};
    int64_t t0 = bp_mono_us(), us;

    for (long i = 0; i < n; i++) {
        redisReply *r = bp_conn_command_argv(c, 1, argv, NULL, &err);
        if (r == NULL)
            return fail(&err);
        if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
            fprintf(stderr, "bp_conn_probe: PING %ld: unexpected reply\n", i);
            freeReplyObject(r);
            return 1;
        }
        freeReplyObject(r);
    }
    us = bp_mono_us() - t0;
    fprintf(stdout, "ping %ld round trips in %.3f s: %.0f per second\n", n, (double)us / 1e6,
            us > 0 ? (double)n * 1e6 / (double)us : 0.0);
    return 0;
}

static int run_pipeline(bp_conn *c, long n)
{
    bp_err err = {0};
    const char *key = "bp_conn_probe:pipeline";
    redisReply *r = bp_conn_command(c, &err, "DEL %s", key);
    int64_t t0;

    if (r == NULL)
        return fail(&err);
    freeReplyObject(r);
    t0 = bp_mono_us();
    for (long i = 0; i < n; i++) {
        const char *argv[] = {"INCR", key};
        if (bp_conn_append_argv(c, 2, argv, NULL, &err) != 0)
            return fail(&err);
    }
    if (bp_conn_flush(c, &err) != 0)
        return fail(&err);
    for (long i = 0; i < n; i++) {
        if (bp_conn_read_reply(c, &r, -1, -1, &err) != 0)
            return fail(&err);
        if (r->type != REDIS_REPLY_INTEGER || r->integer != i + 1) {
            fprintf(stderr, "bp_conn_probe: reply %ld out of order or wrong\n", i);
            freeReplyObject(r);
            return 1;
        }
        freeReplyObject(r);
    }
    fprintf(stdout, "pipeline %ld commands in %.3f s\n", n, (double)(bp_mono_us() - t0) / 1e6);
    return 0;
}

static int run_bigvalue(bp_conn *c, size_t bytes)
{
    bp_err err = {0};
    char *v = malloc(bytes);
    const char *set[] = {"SET", "bp_conn_probe:big", v};
    size_t setlen[] = {3, strlen(set[1]), bytes};
    redisReply *r;
    int rc = 1;

    if (v == NULL)
        return 1;
    for (size_t i = 0; i < bytes; i++)
        v[i] = (char)(i * 7 + i / 251); /* every byte value, including \0 and \r\n */
    r = bp_conn_command_argv(c, 3, set, setlen, &err);
    if (r == NULL) {
        rc = fail(&err);
        goto out;
    }
    freeReplyObject(r);
    r = bp_conn_command(c, &err, "GET %s", "bp_conn_probe:big");
    if (r == NULL) {
        rc = fail(&err);
        goto out;
    }
    if (r->type == REDIS_REPLY_STRING && r->len == bytes && memcmp(r->str, v, bytes) == 0) {
        fprintf(stdout, "bigvalue %zu bytes round trip ok\n", bytes);
        rc = 0;
    } else {
        fprintf(stderr, "bp_conn_probe: value of %zu bytes came back different\n", bytes);
    }
    freeReplyObject(r);
out:
    free(v);
    return rc;
}

static int run_block(bp_conn *c, const char *key, int seconds)
{
    bp_err err = {0};
    char s[16];
    const char *argv[] = {"BLPOP", key, s};
    int64_t t0 = bp_mono_ms();
    redisReply *r;

    snprintf(s, sizeof(s), "%d", seconds);
    r = bp_conn_blocking_argv(c, 3, argv, NULL, seconds, -1, &err);
    if (r == NULL)
        return fail(&err);
    fprintf(stdout, "block returned after %lld ms: ", (long long)(bp_mono_ms() - t0));
    print_reply(r, 0);
    freeReplyObject(r);
    return 0;
}

typedef struct waker {
    int fd; /* write end of the wake pipe */
    int ms; /* delay before writing */
} waker;

static void *waker_main(void *arg)
{
    const waker *w = arg;

    bp_sleep_ms(w->ms);
    if (write(w->fd, "x", 1) != 1)
        perror("write");
    return NULL;
}

static int run_wake(bp_conn *c, const char *key, int ms)
{
    bp_err err = {0};
    const char *argv[] = {"BLPOP", key, "0"};
    int pfd[2];
    waker w;
    pthread_t t;
    int64_t t0 = bp_mono_ms(), elapsed;
    redisReply *r;

    if (pipe(pfd) != 0)
        return 1;
    w.fd = pfd[1];
    w.ms = ms;
    pthread_create(&t, NULL, waker_main, &w);
    r = bp_conn_blocking_argv(c, 3, argv, NULL, 0, pfd[0], &err);
    elapsed = bp_mono_ms() - t0;
    pthread_join(t, NULL);
    close(pfd[0]);
    close(pfd[1]);
    if (r != NULL) {
        fputs("bp_conn_probe: BLPOP returned a reply instead of being woken\n", stderr);
        freeReplyObject(r);
        return 1;
    }
    if (err.kind != BP_ERR_WOKEN)
        return fail(&err);
    fprintf(stdout, "woken after %lld ms (ok=%d)\n", (long long)elapsed, bp_conn_ok(c));
    return 0;
}

/* PING every 50 ms; after a failure reopen with backoff until a PING works again. */
static int run_reconnect(const probe_opts *o, SSL_CTX *ctx, bp_conn *c, int seconds)
{
    int64_t deadline = bp_mono_ms() + (int64_t)seconds * 1000;
    bp_backoff b;
    bp_err err = {0};
    unsigned attempts = 0;
    bool lost = false;

    bp_backoff_init(&b, 50, 1000, 0);
    puts("connected");
    fflush(stdout);
    while (bp_mono_ms() < deadline) {
        redisReply *r = c != NULL ? bp_conn_command(c, &err, "PING") : NULL;

        if (r != NULL) {
            freeReplyObject(r);
            if (lost) {
                fprintf(stdout, "reconnected after %u attempts: %s\n", attempts,
                        bp_conn_describe(c));
                bp_conn_close(c);
                return 0;
            }
            bp_sleep_ms(50);
            continue;
        }
        if (!lost)
            fprintf(stdout, "lost: %s\n", err.msg);
        fflush(stdout);
        lost = true;
        bp_conn_close(c);
        c = NULL;
        while (c == NULL && bp_mono_ms() < deadline) {
            attempts++;
            if (open_conn(o, ctx, &c, &err) != 0) {
                c = NULL;
                bp_sleep_ms(bp_backoff_next(&b));
            }
        }
        bp_backoff_reset(&b);
    }
    bp_conn_close(c);
    fprintf(stderr, "bp_conn_probe: no reconnect within %d s: %s\n", seconds, err.msg);
    return 1;
}

static int run_scripts(bp_conn *c)
{
    bp_err err = {0};
    const bp_script *s = bp_script_get("echo_args");
    const char *argv[] = {"k1", "a1", "a2"};
    redisReply *r;

    if (bp_scripts_load_all(c, &err) != 0)
        return fail(&err);
    if (s == NULL) {
        fputs("bp_conn_probe: no embedded script 'echo_args'\n", stderr);
        return 1;
    }
    r = bp_conn_command(c, &err, "SCRIPT FLUSH"); /* force the NOSCRIPT -> EVAL path */
    if (r == NULL)
        return fail(&err);
    freeReplyObject(r);
    for (int round = 0; round < 2; round++) { /* EVAL fallback, then EVALSHA after load */
        r = bp_script_run(c, s, 1, 3, argv, NULL, &err);
        if (r == NULL)
            return fail(&err);
        fprintf(stdout, "echo_args %s: ", s->sha1);
        print_reply(r, 0);
        freeReplyObject(r);
    }
    return 0;
}

static char localhost[] = "127.0.0.1";

/* fork(); the child gets rid of the inherited connection with bp_conn_abandon() (mode
 * "abandon") or, as the negative control, bp_conn_close() ("close": a TLS close_notify on
 * the parent's session); then the parent must still be able to PING. */
static int run_fork(bp_conn *c, SSL_CTX *ctx, const char *mode)
{
    bp_err err = {0};
    redisReply *r;
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        if (strcmp(mode, "close") == 0)
            bp_conn_close(c);
        else
            bp_conn_abandon(c);
        bp_tls_ctx_free(ctx);
        exit(0);
    }
    waitpid(pid, &status, 0);
    r = bp_conn_command(c, &err, "PING");
    if (r == NULL)
        return fail(&err);
    fprintf(stdout, "parent PING after the child's %s: %s\n", mode, r->str);
    freeReplyObject(r);
    return 0;
}

/* SUBSCRIBE on c; a wait with nothing published times out but leaves c usable; then a
 * PUBLISH from a second connection arrives as a message. */
static int run_subscribe(const probe_opts *o, SSL_CTX *ctx, bp_conn *c, const char *channel)
{
    bp_err err = {0};
    const char *sub[] = {"SUBSCRIBE", channel};
    const char *pub[] = {"PUBLISH", channel, "hello"};
    bp_conn *p = NULL;
    redisReply *r = NULL;
    int rc = 1;

    if (bp_conn_append_argv(c, 2, sub, NULL, &err) != 0 ||
        bp_conn_read_reply(c, &r, -1, -1, &err) != 0)
        return fail(&err);
    freeReplyObject(r);
    if (bp_conn_read_reply(c, &r, 200, -1, &err) == 0) {
        fputs("bp_conn_probe: a message arrived before anything was published\n", stderr);
        freeReplyObject(r);
        return 1;
    }
    fprintf(stdout, "idle wait: %s (ok=%d)\n", err.msg, bp_conn_ok(c));
    if (open_conn(o, ctx, &p, &err) != 0)
        return fail(&err);
    r = bp_conn_command_argv(p, 3, pub, NULL, &err);
    bp_conn_close(p);
    if (r == NULL)
        return fail(&err);
    freeReplyObject(r);
    if (bp_conn_read_reply(c, &r, -1, -1, &err) != 0)
        return fail(&err);
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[2]->type == REDIS_REPLY_STRING) {
        fprintf(stdout, "message: %s\n", r->element[2]->str);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

static int parse_opts(int argc, char **argv, probe_opts *o, int *next)
{
    bp_redis_config *rc = &o->rc;
    int i;

    rc->transport = BP_TRANSPORT_TCP;
    rc->host = localhost;
    rc->port = 6379;
    rc->tls.verify = true;
    rc->connect_timeout_ms = 5000; /* generous for loaded CI machines; tests lower it */
    rc->command_timeout_ms = 5000;
    rc->keepalive_s = 30;
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *k = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(k, "--tls") == 0) {
            rc->transport = BP_TRANSPORT_TLS;
            continue;
        }
        if (strcmp(k, "--no-verify") == 0) {
            rc->tls.verify = false;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(k, "--host") == 0)
            rc->host = v;
        else if (strcmp(k, "--port") == 0)
            rc->port = atoi(v);
        else if (strcmp(k, "--unix") == 0) {
            rc->transport = BP_TRANSPORT_UNIX;
            rc->unix_path = v;
        } else if (strcmp(k, "--ca") == 0)
            rc->tls.ca_file = v;
        else if (strcmp(k, "--ca-dir") == 0)
            rc->tls.ca_dir = v;
        else if (strcmp(k, "--cert") == 0)
            rc->tls.cert_file = v;
        else if (strcmp(k, "--key") == 0)
            rc->tls.key_file = v;
        else if (strcmp(k, "--server-name") == 0)
            rc->tls.server_name = v;
        else if (strcmp(k, "--min-tls") == 0)
            rc->tls.min_version = strcmp(v, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        else if (strcmp(k, "--user") == 0)
            rc->username = v;
        else if (strcmp(k, "--pass") == 0)
            rc->password = v;
        else if (strcmp(k, "--db") == 0)
            rc->db = atoi(v);
        else if (strcmp(k, "--name") == 0)
            o->name = v;
        else if (strcmp(k, "--connect-timeout") == 0)
            rc->connect_timeout_ms = atoi(v);
        else if (strcmp(k, "--command-timeout") == 0)
            rc->command_timeout_ms = atoi(v);
        else if (strcmp(k, "--keepalive") == 0)
            rc->keepalive_s = atoi(v);
        else
            usage();
    }
    *next = i;
    return 0;
}

int main(int argc, char **argv)
{
    probe_opts o = {0};
    SSL_CTX *ctx = NULL;
    bp_conn *c = NULL;
    bp_err err = {0};
    int i, rc;
    const char *what;

    signal(SIGPIPE, SIG_IGN);
    parse_opts(argc, argv, &o, &i);
    if (i >= argc)
        usage();
    what = argv[i++];
    if (o.rc.transport == BP_TRANSPORT_TLS && bp_tls_ctx_new(&ctx, &o.rc.tls, &err) != 0)
        return fail(&err);
    if (open_conn(&o, ctx, &c, &err) != 0) {
        bp_tls_ctx_free(ctx);
        return fail(&err);
    }
    if (strcmp(what, "describe") == 0) {
        puts(bp_conn_describe(c));
        rc = 0;
    } else if (strcmp(what, "cmd") == 0 && i < argc) {
        rc = run_cmd(c, argc - i, argv + i);
    } else if (strcmp(what, "ping") == 0 && i < argc) {
        rc = run_ping(c, atol(argv[i]));
    } else if (strcmp(what, "pipeline") == 0 && i < argc) {
        rc = run_pipeline(c, atol(argv[i]));
    } else if (strcmp(what, "bigvalue") == 0 && i < argc) {
        rc = run_bigvalue(c, (size_t)atol(argv[i]));
    } else if (strcmp(what, "block") == 0 && i + 1 < argc) {
        rc = run_block(c, argv[i], atoi(argv[i + 1]));
    } else if (strcmp(what, "wake") == 0 && i + 1 < argc) {
        rc = run_wake(c, argv[i], atoi(argv[i + 1]));
    } else if (strcmp(what, "reconnect") == 0 && i < argc) {
        rc = run_reconnect(&o, ctx, c, atoi(argv[i]));
        c = NULL; /* run_reconnect closed it */
    } else if (strcmp(what, "fork") == 0 && i < argc) {
        rc = run_fork(c, ctx, argv[i]);
    } else if (strcmp(what, "subscribe") == 0 && i < argc) {
        rc = run_subscribe(&o, ctx, c, argv[i]);
    } else if (strcmp(what, "scripts") == 0) {
        rc = run_scripts(c);
    } else {
        bp_conn_close(c);
        bp_tls_ctx_free(ctx);
        usage();
        return 64;
    }
    bp_conn_close(c);
    bp_tls_ctx_free(ctx);
    return rc;
}
