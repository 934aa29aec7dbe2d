/* bp_config_finish.c -- the last step of bp_config_load(): what spans several keys, the
 * environment overrides, and the secrets.
 *
 * The Redis URL is BULLPEN_REDIS_URL when set, else the variable redis.url_env names (the
 * app's own, e.g. REDIS_URL), else redis.url, else the default. The password, first match
 * wins: BULLPEN_REDIS_PASSWORD; the password in the URL from the environment;
 * redis.password or redis.password_file (not both); the password in redis.url (not together
 * with the previous two: one file must not give two passwords). Secret files are read here,
 * once, by the master before fork; their bytes live in the config's arena, which is wiped
 * when freed. Nothing here logs: a secret never reaches a message. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "bp_config_int.h"

#define BP_SECRET_MAX      65536 /* a password or key file larger than this is the wrong file */
#define BP_CONTROL_KEY_MIN 16    /* 128 bits: below this an HMAC key can be guessed */

static config_setting_t *lookup(bp_load *ld, const char *path)
{
    return config_setting_lookup(ld->root, path);
}

/* Read a secret file into the arena; one trailing "\n" (or "\r\n") is dropped. */
static int read_secret(bp_load *ld, const char *key, const char *path, unsigned char **out,
                       size_t *out_len)
{
    const config_setting_t *s = lookup(ld, key);
    unsigned char *buf;
    size_t len = 0;
    struct stat st;
    int fd, e;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        e = errno;
        return bp_load_fail(ld, s, key,
                            "cannot read \"%s\": %s; create it (readable only by "
                            "bullpen's user) or fix the path",
                            path, strerror(e));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > BP_SECRET_MAX) {
        close(fd);
        return bp_load_fail(ld, s, key,
                            "\"%s\" is not a regular file of at most %d bytes; "
                            "give the file that holds only the secret",
                            path, BP_SECRET_MAX);
    }
    buf = bp_arena_alloc(ld->arena, (size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return bp_load_fail(ld, s, key, "out of memory");
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            close(fd);
            return bp_load_fail(ld, s, key, "cannot read \"%s\": %s; check the file", path,
                                strerror(e));
        }
        if (n == 0 || (len += (size_t)n) == (size_t)st.st_size)
            break;
    }
    close(fd);
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

static int finish_password(bp_load *ld, const char *url_pw, bool url_from_env)
{
    bp_redis_config *rc = &ld->cfg->redis;
    const config_setting_t *pw = lookup(ld, "redis.password");
    const config_setting_t *pwf = lookup(ld, "redis.password_file");
    const char *env = getenv("BULLPEN_REDIS_PASSWORD");
    unsigned char *secret;
    size_t len;

    if (pw != NULL && pwf != NULL && rc->password_file != NULL)
        return bp_load_fail(ld, pwf, "redis.password_file",
                            "given together with redis.password; keep one of them");
    if (url_pw != NULL && !url_from_env && (pw != NULL || rc->password_file != NULL))
        return bp_load_fail(ld, lookup(ld, "redis.url"), "redis.url",
                            "holds a password and redis.%s gives another; keep one of them "
                            "(password_file keeps it out of this file)",
                            pw != NULL ? "password" : "password_file");
    if ((env != NULL && env[0] != '\0') || (url_pw != NULL && url_from_env)) {
        rc->password_file = NULL; /* the environment wins: the file is not read */
        rc->password = bp_arena_strdup(ld->arena, env != NULL && env[0] ? env : url_pw);
    } else if (rc->password_file != NULL) {
        if (read_secret(ld, "redis.password_file", rc->password_file, &secret, &len) != 0)
            return -1;
        if (len == 0 || memchr(secret, '\0', len) != NULL)
            return bp_load_fail(ld, pwf, "redis.password_file",
                                "\"%s\" is %s; put the password alone on its first line, or "
                                "remove the key to connect without AUTH",
                                rc->password_file, len == 0 ? "empty" : "binary (a NUL byte)");
        rc->password = (char *)secret;
    } else if (pw != NULL) {
        rc->password = bp_arena_strdup(ld->arena, config_setting_get_string(pw));
    } else if (url_pw != NULL) {
        rc->password = bp_arena_strdup(ld->arena, url_pw);
    }
    return 0;
}

/* The URL and where it came from: BULLPEN_REDIS_URL, else the variable named by
 * redis.url_env (which must then be set), else redis.url, else the default. */
static int pick_url(bp_load *ld, const char **url, const char **from)
{
    bp_redis_config *rc = &ld->cfg->redis;
    const config_setting_t *us = lookup(ld, "redis.url");
    const config_setting_t *es = lookup(ld, "redis.url_env");
    const char *env = getenv("BULLPEN_REDIS_URL");

    *url = bp_config_key_find(BP_SCOPE_REDIS, "url")->def_str;
    *from = NULL;
    if (us != NULL && rc->url_env != NULL)
        return bp_load_fail(ld, es, "redis.url_env",
                            "given together with redis.url (line %d); keep one of them: url_env "
                            "reads the URL from the environment instead of url",
                            (int)config_setting_source_line(us));
    if (rc->url_env != NULL) {
        const char *v = rc->url_env;
        size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
        if (v[n] != '\0' || (v[0] >= '0' && v[0] <= '9'))
            return bp_load_fail(ld, es, "redis.url_env",
                                "\"%s\" is not an environment variable name (letters, digits, "
                                "_); write e.g. url_env = \"REDIS_URL\";",
                                v);
    }
    if (env != NULL && env[0] != '\0') {
        *url = env;
        *from = "BULLPEN_REDIS_URL";
    } else if (rc->url_env != NULL) {
        const char *v = getenv(rc->url_env);
        if (v == NULL || v[0] == '\0')
            return bp_load_fail(ld, es, "redis.url_env",
                                "the environment variable %s is %s; export it (e.g. from the "
                                "app's .env: %s=rediss://...), or set redis.url instead",
                                rc->url_env, v == NULL ? "not set" : "empty", rc->url_env);
        *url = v;
        *from = rc->url_env;
    } else if (us != NULL) {
        *url = config_setting_get_string(us);
    }
    return 0;
}

static int finish_redis(bp_load *ld)
{
    bp_redis_config *rc = &ld->cfg->redis;
    const config_setting_t *us = lookup(ld, "redis.url");
    const char *url, *from;
    bool from_env;
    bp_redis_config u = {0};
    bp_err uerr;
    char *redacted;
    int rc_ = -1;

    if (pick_url(ld, &url, &from) != 0)
        return -1;
    from_env = from != NULL;
    rc->url_from = from; /* a literal or the arena's url_env: lives as long as the config */
    if (bp_url_parse(url, &u, &uerr) != 0) {
        if (from != NULL && strcmp(from, "BULLPEN_REDIS_URL") == 0)
            bp_err_set(ld->err, BP_ERR_CONFIG, 0, "BULLPEN_REDIS_URL (environment): %s", uerr.msg);
        else if (from != NULL)
            bp_load_fail(ld, lookup(ld, "redis.url_env"), "redis.url_env",
                         "the URL in the environment variable %s: %s; fix it where %s is set", from,
                         uerr.msg, from);
        else
            bp_load_fail(ld, us, "redis.url", "%s", uerr.msg);
        return -1;
    }
    rc->transport = u.transport;
    rc->port = u.port;
    rc->db = u.db;
    if ((u.host != NULL && (rc->host = bp_arena_strdup(ld->arena, u.host)) == NULL) ||
        (u.unix_path != NULL &&
         (rc->unix_path = bp_arena_strdup(ld->arena, u.unix_path)) == NULL) ||
        (u.username != NULL && (rc->username = bp_arena_strdup(ld->arena, u.username)) == NULL)) {
        bp_load_fail(ld, us, "redis.url", "out of memory");
        goto out;
    }
    if (finish_password(ld, u.password, from_env) != 0)
        goto out;
    redacted = bp_url_redact(rc);
    rc->url_redacted = bp_arena_strdup(ld->arena, redacted);
    free(redacted);
    if (rc->url_redacted == NULL) {
        bp_load_fail(ld, us, "redis.url", "out of memory");
        goto out;
    }
    rc_ = 0;

out:
    bp_url_free(&u);
    return rc_;
}

static int finish_tls(bp_load *ld)
{
    const bp_tls_config *tc = &ld->cfg->redis.tls;

    if ((tc->cert_file == NULL) != (tc->key_file == NULL)) {
        const char *given = tc->cert_file != NULL ? "redis.tls.cert_file" : "redis.tls.key_file";
        const char *other = tc->cert_file != NULL ? "key_file" : "cert_file";

        return bp_load_fail(ld, lookup(ld, given), given,
                            "given without %s; give both for mutual TLS, or neither", other);
    }
    return 0;
}

static int finish_pool(bp_load *ld)
{
    bp_pool_config *pc = &ld->cfg->pool;
    unsigned char *key;
    size_t len;

    if (pc->hung_after_ms <= pc->heartbeat_ms) {
        const config_setting_t *s = lookup(ld, "pool.hung_after_ms");

        return bp_load_fail(ld, s != NULL ? s : lookup(ld, "pool.heartbeat_ms"),
                            "pool.hung_after_ms",
                            "%d is not above heartbeat_ms (%d); allow several missed heartbeats, "
                            "e.g. 10 x heartbeat_ms",
                            pc->hung_after_ms, pc->heartbeat_ms);
    }
    if (pc->control_key_file == NULL)
        return 0;
    if (read_secret(ld, "pool.control_key_file", pc->control_key_file, &key, &len) != 0)
        return -1;
    if (len < BP_CONTROL_KEY_MIN)
        return bp_load_fail(ld, lookup(ld, "pool.control_key_file"), "pool.control_key_file",
                            "\"%s\" holds %zu bytes, fewer than %d; make a longer key, e.g. "
                            "openssl rand -hex 32 > %s",
                            pc->control_key_file, len, BP_CONTROL_KEY_MIN, pc->control_key_file);
    pc->control_key = key;
    pc->control_key_len = len;
    return 0;
}

static int finish_metrics(bp_load *ld)
{
    const char *l = ld->cfg->metrics.listen;
    const char *colon;
    char *end;
    long port;

    if (l == NULL)
        return 0;
    colon = strrchr(l, ':');
    if (colon != NULL && colon > l) {
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno == 0 && *end == '\0' && end != colon + 1 && port >= 1 && port <= 65535 &&
            (l[0] != '[' || colon[-1] == ']'))
            return 0;
    }
    return bp_load_fail(ld, lookup(ld, "metrics.listen"), "metrics.listen",
                        "\"%s\" is not HOST:PORT; write e.g. \"127.0.0.1:9187\" or "
                        "\"[::1]:9187\", or \"\" for no endpoint",
                        l);
}

/* Sentinel and Cluster: one of them at most, their secrets, and what Cluster asks of queue
 * prefixes (every key of one Bull queue must hash to one slot, so its scripts can run). */
static int finish_topology(bp_load *ld)
{
    bp_redis_config *rc = &ld->cfg->redis;
    bp_sentinel_config *sc = &rc->sentinel;
    size_t len;

    if (sc->master_name != NULL && rc->cluster.n_nodes > 0)
        return bp_load_fail(ld, lookup(ld, "redis.cluster"), "redis.cluster",
                            "given together with redis.sentinel; a Redis is either watched by "
                            "sentinels or a cluster: keep one of them");
    if ((sc->master_name != NULL || rc->cluster.n_nodes > 0) && rc->transport == BP_TRANSPORT_UNIX)
        return bp_load_fail(ld, lookup(ld, "redis.url"), "redis.url",
                            "is a unix:// URL, but redis.%s names nodes on the network; use "
                            "redis:// or rediss:// (the host part is not used)",
                            sc->master_name != NULL ? "sentinel" : "cluster");
    if (sc->password_file != NULL) {
        unsigned char *secret;

        if (read_secret(ld, "redis.sentinel.password_file", sc->password_file, &secret, &len) != 0)
            return -1;
        if (len == 0 || memchr(secret, '\0', len) != NULL)
            return bp_load_fail(ld, lookup(ld, "redis.sentinel.password_file"),
                                "redis.sentinel.password_file",
                                "\"%s\" is %s; put the sentinels' password alone on its first "
                                "line, or remove the key when they have none",
                                sc->password_file, len == 0 ? "empty" : "binary (a NUL byte)");
        sc->password = (char *)secret;
    }
    if (rc->cluster.n_nodes == 0)
        return 0;
    if (rc->db != 0)
        return bp_load_fail(ld, lookup(ld, "redis.url"), "redis.url",
                            "selects database %d, but a Redis Cluster has only database 0; drop "
                            "the /%d from the URL",
                            rc->db, rc->db);
    for (size_t i = 0; i < ld->cfg->n_queues; i++) {
        const bp_queue_config *q = &ld->cfg->queues[i];
        char base[1024]; /* Bull's keys are "<prefix>:<name>:<suffix>": hashed by their tag */
        const char *open, *close;

        snprintf(base, sizeof(base), "%s:%s:", q->prefix, q->name);
        open = strchr(base, '{');
        close = open != NULL ? strchr(open + 1, '}') : NULL;
        if (open == NULL || close == NULL || close == open + 1) {
            char key[64], path[64];
            const config_setting_t *s;

            snprintf(key, sizeof(key), "queues[%zu].prefix", i);
            snprintf(path, sizeof(path), "queues.[%zu].prefix", i);
            s = lookup(ld, path);
            return bp_load_fail(ld, s != NULL ? s : lookup(ld, "queues"), key,
                                "\"%s\" (queue '%s') has no hash tag, but on Redis Cluster "
                                "Bull's keys of one queue must share a slot for its scripts; "
                                "write prefix = \"{%s}\"; in this queue and in Bull's "
                                "producers (new Queue(name, { prefix: '{%s}' }))",
                                q->prefix, q->name, q->prefix, q->prefix);
        }
    }
    return 0;
}

int bp_load_finish(bp_load *ld)
{
    ld->key[0] = '\0';
    if (finish_redis(ld) != 0 || finish_topology(ld) != 0 || finish_tls(ld) != 0 ||
        finish_pool(ld) != 0 || finish_metrics(ld) != 0)
        return -1;
    return 0;
}
