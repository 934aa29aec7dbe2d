/* test_bp_config.c -- bp_config_load(), bp_config_print() and routing, against files in
 * tests/unit/data/ and small files written to a temporary directory.
 *
 * Error tests compare the whole message, "FILE:LINE: key: what; what to do", so a changed
 * line number or a lost hint fails here. */
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/tls1.h>

#include "bp_config.h"
#include "bp_config_int.h" /* the key table, to check the docs cover it */

static char tmpdir[PATH_MAX]; /* realpath of this run's temporary directory */

#define Q_MIN "queues = ( { name = \"q\"; handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    char tmpl[PATH_MAX];
    const char *t = getenv("TMPDIR");

    (void)state;
    snprintf(tmpl, sizeof(tmpl), "%s/bp_config_XXXXXX", t != NULL && t[0] ? t : "/tmp");
    if (mkdtemp(tmpl) == NULL || realpath(tmpl, tmpdir) == NULL)
        return -1;
    unsetenv("BULLPEN_REDIS_URL");
    unsetenv("BULLPEN_REDIS_PASSWORD");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void tmp_path(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/", tmpdir);

    assert_true(n > 0 && (size_t)n < size);
    assert_true(strlen(name) < size - (size_t)n);
    memcpy(buf + n, name, strlen(name) + 1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Load text as tmpdir/t.conf and expect success. */
static bp_config *load_text(const char *text)
{
    char path[PATH_MAX];
    bp_config *cfg = NULL;
    bp_err err = {0};

    tmp_path(path, sizeof(path), "t.conf");
    write_file(path, text);
    if (bp_config_load(&cfg, path, &err) != 0)
        fail_msg("unexpected error: %s", err.msg);
    assert_non_null(cfg);
    return cfg;
}

/* Load text as tmpdir/t.conf and expect exactly "<path>:<line>: <rest>". */
static void expect_error(const char *text, int line, const char *rest)
{
    char path[PATH_MAX], want[PATH_MAX + 1024];
    bp_config *cfg = NULL;
    bp_err err = {0};

    tmp_path(path, sizeof(path), "t.conf");
    write_file(path, text);
    assert_int_equal(bp_config_load(&cfg, path, &err), -1);
    assert_null(cfg);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, rest);
    assert_string_equal(err.msg, want);
    assert_null(strchr(err.msg, '\n'));
}

static void test_defaults(void **state)
{
    char path[PATH_MAX];
    bp_config *cfg = NULL;
    bp_err err = {0};

    (void)state;
    snprintf(path, sizeof(path), "%s/minimal.conf", BP_TEST_DATA);
    assert_int_equal(bp_config_load(&cfg, path, &err), 0);
    assert_non_null(cfg);
    assert_true(cfg->path[0] == '/');
    /* redis */
    assert_int_equal(cfg->redis.transport, BP_TRANSPORT_TCP);
    assert_string_equal(cfg->redis.host, "127.0.0.1");
    assert_int_equal(cfg->redis.port, 6379);
    assert_null(cfg->redis.unix_path);
    assert_null(cfg->redis.username);
    assert_null(cfg->redis.password);
    assert_null(cfg->redis.password_file);
    assert_int_equal(cfg->redis.db, 0);
    assert_string_equal(cfg->redis.url_redacted, "redis://127.0.0.1:6379/0");
    assert_int_equal(cfg->redis.connect_timeout_ms, 2000);
    assert_int_equal(cfg->redis.command_timeout_ms, 5000);
    assert_int_equal(cfg->redis.keepalive_s, 30);
    /* redis.tls */
    assert_null(cfg->redis.tls.ca_file);
    assert_null(cfg->redis.tls.ca_dir);
    assert_null(cfg->redis.tls.cert_file);
    assert_null(cfg->redis.tls.key_file);
    assert_null(cfg->redis.tls.server_name);
    assert_true(cfg->redis.tls.verify);
    assert_int_equal(cfg->redis.tls.min_version, TLS1_2_VERSION);
    /* pool */
    assert_null(cfg->pool.user);
    assert_null(cfg->pool.group);
    assert_null(cfg->pool.pidfile);
    assert_int_equal(cfg->pool.heartbeat_ms, 1000);
    assert_int_equal(cfg->pool.hung_after_ms, 10000);
    assert_int_equal(cfg->pool.probe_ms, 60000);
    assert_int_equal(cfg->pool.shutdown_timeout_ms, 30000);
    assert_int_equal(cfg->pool.max_jobs_per_worker, 0);
    assert_int_equal(cfg->pool.max_rss_mb, 0);
    assert_null(cfg->pool.control_key_file);
    assert_null(cfg->pool.control_key);
    assert_int_equal(cfg->pool.control_key_len, 0);
    assert_string_equal(cfg->pool.control_channel, "bullpen:control");
    /* queue */
    assert_int_equal(cfg->n_queues, 1);
    const bp_queue_config *q = &cfg->queues[0];
    assert_string_equal(q->name, "q");
    assert_string_equal(q->prefix, "bull");
    assert_int_equal(q->workers, 1);
    assert_int_equal(q->lock_duration_ms, 30000);
    assert_int_equal(q->lock_renew_ms, 15000);
    assert_int_equal(q->stalled_interval_ms, 30000);
    assert_int_equal(q->max_stalled, 1);
    assert_int_equal(q->job_timeout_ms, 0);
    assert_int_equal(q->block_timeout_s, 30);
    assert_int_equal(q->line, 2);
    /* handler */
    assert_int_equal(q->n_handlers, 1);
    const bp_handler_config *h = &q->handlers[0];
    assert_string_equal(h->job, "*");
    assert_int_equal(h->type, BP_HANDLER_ECHO);
    assert_int_equal(h->chunk_words, 200);
    assert_int_equal(h->overlap_words, 40);
    assert_int_equal(h->cache_ttl_s, 86400);
    assert_int_equal(h->max_bytes, 67108864);
    assert_null(h->argv);
    assert_int_equal(h->argc, 0);
    assert_int_equal(h->timeout_ms, 0);
    assert_null(h->path);
    assert_null(h->settings);
    assert_int_equal(h->n_settings, 0);
    /* log, metrics */
    assert_int_equal(cfg->log.level, BP_LOG_INFO);
    assert_null(cfg->log.file);
    assert_false(cfg->log.syslog);
    assert_int_equal(cfg->log.format, BP_LOG_TEXT);
    assert_null(cfg->metrics.listen);
    bp_config_free(cfg);
}

static void test_full(void **state)
{
    char path[PATH_MAX];
    bp_config *cfg = NULL;
    bp_err err = {0};

    (void)state;
    snprintf(path, sizeof(path), "%s/full.conf", BP_TEST_DATA);
    if (bp_config_load(&cfg, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg->redis.transport, BP_TRANSPORT_TLS);
    assert_string_equal(cfg->redis.host, "::1");
    assert_int_equal(cfg->redis.port, 6380);
    assert_int_equal(cfg->redis.db, 3);
    assert_string_equal(cfg->redis.username, "app");
    assert_string_equal(cfg->redis.password, "s3cret-inline");
    assert_string_equal(cfg->redis.url_redacted, "rediss://app:***@[::1]:6380/3");
    /* relative paths are taken from the config file's directory */
    char want[PATH_MAX];
    snprintf(want, sizeof(want), "%s/certs/ca.pem", BP_TEST_DATA);
    char *want_abs = realpath(BP_TEST_DATA, NULL);
    assert_non_null(want_abs);
    snprintf(want, sizeof(want), "%s/certs/ca.pem", want_abs);
    assert_string_equal(cfg->redis.tls.ca_file, want);
    assert_string_equal(cfg->redis.tls.ca_dir, "/etc/ssl/certs");
    assert_string_equal(cfg->redis.tls.cert_file, "/c.pem");
    assert_string_equal(cfg->redis.tls.key_file, "/k.pem");
    assert_string_equal(cfg->redis.tls.server_name, "redis.internal");
    assert_false(cfg->redis.tls.verify);
    assert_int_equal(cfg->redis.tls.min_version, TLS1_3_VERSION);
    assert_int_equal(cfg->redis.connect_timeout_ms, 1500);
    assert_int_equal(cfg->redis.command_timeout_ms, 4000);
    assert_int_equal(cfg->redis.keepalive_s, 0);
    assert_string_equal(cfg->pool.user, "bullpen");
    assert_string_equal(cfg->pool.group, "daemon");
    assert_string_equal(cfg->pool.pidfile, "/run/bp.pid");
    assert_int_equal(cfg->pool.heartbeat_ms, 200);
    assert_int_equal(cfg->pool.hung_after_ms, 3000);
    assert_int_equal(cfg->pool.shutdown_timeout_ms, 5000);
    assert_int_equal(cfg->pool.max_jobs_per_worker, 1000);
    assert_int_equal(cfg->pool.max_rss_mb, 512);
    assert_string_equal(cfg->pool.control_channel, "ops:control");
    assert_int_equal(cfg->n_queues, 2);
    const bp_queue_config *q = &cfg->queues[0];
    assert_string_equal(q->prefix, "app");
    assert_int_equal(q->workers, 4);
    assert_int_equal(q->lock_duration_ms, 20000);
    assert_int_equal(q->lock_renew_ms, 5000);
    assert_int_equal(q->stalled_interval_ms, 15000);
    assert_int_equal(q->max_stalled, 3);
    assert_int_equal(q->job_timeout_ms, 60000);
    assert_int_equal(q->block_timeout_s, 2);
    assert_int_equal(q->n_handlers, 4);
    assert_int_equal(q->handlers[0].type, BP_HANDLER_DOCUMENT);
    assert_int_equal(q->handlers[0].chunk_words, 100);
    assert_int_equal(q->handlers[0].overlap_words, 10);
    assert_int_equal(q->handlers[0].cache_ttl_s, 60);
    assert_true(q->handlers[0].max_bytes == 4294967296LL);
    assert_int_equal(q->handlers[2].type, BP_HANDLER_EXEC);
    assert_int_equal(q->handlers[2].argc, 2);
    assert_string_equal(q->handlers[2].argv[0], "/bin/cat");
    assert_string_equal(q->handlers[2].argv[1], "-u");
    assert_null(q->handlers[2].argv[2]);
    assert_int_equal(q->handlers[2].timeout_ms, 1000);
    assert_int_equal(q->handlers[3].type, BP_HANDLER_PLUGIN);
    snprintf(want, sizeof(want), "%s/plugins/ocr.so", want_abs);
    assert_string_equal(q->handlers[3].path, want);
    assert_int_equal(q->handlers[3].n_settings, 4);
    assert_string_equal(q->handlers[3].settings[0].key, "lang");
    assert_string_equal(q->handlers[3].settings[0].value, "eng");
    assert_string_equal(q->handlers[3].settings[1].key, "dpi");
    assert_string_equal(q->handlers[3].settings[1].value, "300");
    assert_string_equal(q->handlers[3].settings[2].value, "true");
    assert_string_equal(q->handlers[3].settings[3].value, "0.5");
    assert_int_equal(cfg->queues[1].workers, 0);
    assert_int_equal(cfg->queues[1].handlers[1].type, BP_HANDLER_FAIL);
    assert_int_equal(bp_config_total_workers(cfg), 4);
    assert_int_equal(cfg->log.level, BP_LOG_DEBUG);
    assert_string_equal(cfg->log.file, "/var/log/bullpen.log");
    assert_true(cfg->log.syslog);
    assert_int_equal(cfg->log.format, BP_LOG_JSON);
    assert_string_equal(cfg->metrics.listen, "127.0.0.1:9187");
    free(want_abs);
    bp_config_free(cfg);
}

static void test_example_loads(void **state)
{
    char path[PATH_MAX];
    bp_config *cfg = NULL;
    bp_err err = {0};

    (void)state;
    snprintf(path, sizeof(path), "%s/../../../config/bullpen.conf.example", BP_TEST_DATA);
    if (bp_config_load(&cfg, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg->n_queues, 1);
    bp_config_free(cfg);
}

static void test_syntax_error(void **state)
{
    char path[PATH_MAX], want[PATH_MAX + 64], *abs;
    bp_config *cfg = NULL;
    bp_err err = {0};

    (void)state;
    snprintf(path, sizeof(path), "%s/syntax.conf", BP_TEST_DATA);
    abs = realpath(path, NULL);
    assert_non_null(abs);
    assert_int_equal(bp_config_load(&cfg, path, &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    snprintf(want, sizeof(want), "%s:4: syntax error; fix", abs);
    assert_memory_equal(err.msg, want, strlen(want));
    free(abs);

    /* a key given twice in one group is libconfig's error, with its line */
    tmp_path(path, sizeof(path), "t.conf");
    write_file(path, "pool = {\n  heartbeat_ms = 100;\n  heartbeat_ms = 200;\n};\n" Q_MIN);
    assert_int_equal(bp_config_load(&cfg, path, &err), -1);
    snprintf(want, sizeof(want), "%s:3: duplicate setting name; fix", path);
    assert_memory_equal(err.msg, want, strlen(want));
}

static void test_missing_file(void **state)
{
    char path[PATH_MAX], want[PATH_MAX + 128];
    bp_config *cfg = NULL;
    bp_err err = {0};

    (void)state;
    tmp_path(path, sizeof(path), "nope.conf");
    assert_int_equal(bp_config_load(&cfg, path, &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "%s: cannot read the configuration: No such file or directory; give an existing "
             "file with -c",
             path);
    assert_string_equal(err.msg, want);
    assert_int_equal(bp_config_load(&cfg, tmpdir, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

static void test_unknown_key(void **state)
{
    char path[PATH_MAX], want[PATH_MAX + 128], *abs;
    bp_config *cfg = NULL;
    bp_err err = {0};

    (void)state;
    snprintf(path, sizeof(path), "%s/typo.conf", BP_TEST_DATA);
    abs = realpath(path, NULL);
    assert_int_equal(bp_config_load(&cfg, path, &err), -1);
    snprintf(want, sizeof(want),
             "%s:3: redis.conect_timeout_ms: unknown key; did you mean \"connect_timeout_ms\"?",
             abs);
    assert_string_equal(err.msg, want);
    free(abs);

    expect_error(Q_MIN "pool = {\n  workers = 4;\n};\n", 3,
                 "pool.workers: unknown key here; \"workers\" belongs in queues");
    expect_error("queues = ( { name = \"q\"; worker = 2;\n"
                 "  handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 1, "queues[0].worker: unknown key; did you mean \"workers\"?");
    expect_error("queues = ( { name = \"q\"; chunk_words = 2;\n"
                 "  handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 1,
                 "queues[0].chunk_words: unknown key here; \"chunk_words\" belongs in handlers "
                 "(a queue's handlers)");
    expect_error(Q_MIN "log = { colour = true; };\n", 2,
                 "log.colour: unknown key; the keys of log are: level, file, syslog, format");
    expect_error(Q_MIN "redis = { tls = { verfy = false; }; };\n", 2,
                 "redis.tls.verfy: unknown key; did you mean \"verify\"?");
    expect_error(Q_MIN "loggin = { };\n", 2, "loggin: unknown key; did you mean \"log\"?");
}

static void test_type_errors(void **state)
{
    (void)state;
    expect_error(Q_MIN "redis = {\n  connect_timeout_ms = \"2000\";\n};\n", 3,
                 "redis.connect_timeout_ms: must be a number, not a string; write "
                 "connect_timeout_ms = 2000; (no quotes)");
    expect_error(Q_MIN "pool = { heartbeat_ms = 1.5; };\n", 2,
                 "pool.heartbeat_ms: must be a whole number, not 1.5; drop the fraction");
    expect_error(Q_MIN "redis = { tls = { verify = \"yes\"; }; };\n", 2,
                 "redis.tls.verify: must be true or false (no quotes), not a string");
    expect_error(Q_MIN "log = { file = 3; };\n", 2,
                 "log.file: must be a string in double quotes, not a number; write file = "
                 "\"...\";");
    expect_error(Q_MIN "redis = \"redis://x\";\n", 2,
                 "redis: must be a group, not a string; write redis = { ... };");
    expect_error("queues = { name = \"q\"; };\n", 1,
                 "queues: must be a list of groups in ( ); write queues = ( { name = \"jobs\"; "
                 "handlers = ( ... ); } );");
}

static void test_range_errors(void **state)
{
    (void)state;
    expect_error(Q_MIN "pool = { heartbeat_ms = 0; };\n", 2,
                 "pool.heartbeat_ms: 0 is out of range; use a value of at least 1");
    expect_error("queues = ( { name = \"q\"; workers = 2000;\n"
                 "  handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 1, "queues[0].workers: 2000 is out of range; use a value from 0 to 1024");
    expect_error(Q_MIN "redis = { keepalive_s = -1; };\n", 2,
                 "redis.keepalive_s: -1 is out of range; use a value from 0 to 32767");
    expect_error("queues = ( { name = \"q\";\n  lock_duration_ms = 1000;\n"
                 "  lock_renew_ms = 1000;\n"
                 "  handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 3,
                 "queues[0].lock_renew_ms: 1000 is not below lock_duration_ms (1000); renew the "
                 "lock well before it expires, e.g. lock_duration_ms / 2");
    expect_error("queues = ( { name = \"q\"; handlers = (\n"
                 "  { job = \"*\"; type = \"document\";\n"
                 "    chunk_words = 50; overlap_words = 50; } ); } );\n",
                 3,
                 "queues[0].handlers[0].overlap_words: 50 is not below chunk_words (50); make "
                 "the overlap smaller than a chunk, e.g. a fifth of it");
    expect_error(Q_MIN "pool = {\n  heartbeat_ms = 1000;\n  hung_after_ms = 1000;\n};\n", 4,
                 "pool.hung_after_ms: 1000 is not above heartbeat_ms (1000); allow several "
                 "missed heartbeats, e.g. 10 x heartbeat_ms");
    expect_error(Q_MIN "metrics = { listen = \"localhost\"; };\n", 2,
                 "metrics.listen: \"localhost\" is not HOST:PORT; write e.g. \"127.0.0.1:9187\" "
                 "or \"[::1]:9187\", or \"\" for no endpoint");
    expect_error(Q_MIN "metrics = { listen = \"0.0.0.0:70000\"; };\n", 2,
                 "metrics.listen: \"0.0.0.0:70000\" is not HOST:PORT; write e.g. "
                 "\"127.0.0.1:9187\" or \"[::1]:9187\", or \"\" for no endpoint");
    expect_error(Q_MIN "pool = { control_channel = \"\"; };\n", 2,
                 "pool.control_channel: is empty; give a value or remove the key");

    /* libconfig 1.5 wraps big literals silently: 4294967297 would read as 1 */
    expect_error("queues = ( { name = \"q\";\n  workers = 4294967297;\n"
                 "  handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 2,
                 "queues[0].workers: the number does not fit in 32 bits and would be misread; "
                 "write it with an L suffix (e.g. 4294967296L) or use a smaller value");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; type = \"document\";"
                 " max_bytes = 5000000000; } ); } );\n",
                 2,
                 "queues[0].handlers[0].max_bytes: the number does not fit in 32 bits and would "
                 "be misread; write it with an L suffix (e.g. 4294967296L) or use a smaller "
                 "value");
    bp_config *big = load_text("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; "
                               "type = \"document\"; max_bytes = 5000000000L; } ); } );\n"
                               "pool = { max_rss_mb = 0x10; };\n");
    assert_true(big->queues[0].handlers[0].max_bytes == 5000000000LL);
    assert_int_equal(big->pool.max_rss_mb, 16);
    bp_config_free(big);

    /* lock_renew_ms defaults to half of lock_duration_ms */
    bp_config *cfg = load_text("queues = ( { name = \"q\"; lock_duration_ms = 9000;\n"
                               "  handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n");
    assert_int_equal(cfg->queues[0].lock_renew_ms, 4500);
    bp_config_free(cfg);
}

static void test_queue_errors(void **state)
{
    (void)state;
    expect_error("pool = { };\n", 1,
                 "queues: missing; add queues = ...; (the Bull queues to serve: a list of groups, "
                 "at least one)");
    expect_error("queues = ( );\n", 1,
                 "queues: is empty; add at least one group: queues = ( { name = \"jobs\"; "
                 "handlers = ( ... ); } );");
    expect_error("queues = (\n  { handlers = ( { job = \"*\"; type = \"echo\"; } ); }\n);\n", 2,
                 "queues[0].name: missing; add name = ...; (the Bull queue name (required, "
                 "unique))");
    expect_error(
        "queues = (\n  { name = \"a\"; handlers = ( { job = \"*\"; type = \"echo\"; } ); },\n"
        "  { name = \"a\"; handlers = ( { job = \"*\"; type = \"echo\"; } ); }\n);\n",
        3,
        "queues[1].name: queue \"a\" is already defined at line 2; give each queue a "
        "unique name (or merge the two groups)");
    expect_error("queues = ( { name = \"q\"; } );\n", 1,
                 "queues[0].handlers: missing; add handlers = ...; (who runs which job name: a "
                 "list of groups, at least one)");
    expect_error(
        "queues = ( { name = \"\"; handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n", 1,
        "queues[0].name: is empty; give a value or remove the key");
}

#define Q1 "queues = ( { name = \"q\"; handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n"

static void test_topology(void **state)
{
    bp_config *cfg;

    (void)state;
    cfg = load_text("redis = { url = \"rediss://u:pw@ignored/2\";\n"
                    "  sentinel = { master_name = \"mymaster\";\n"
                    "    nodes = [ \"10.0.0.1:26379\", \"[fd00::1]:26380\" ]; }; };\n" Q1);
    assert_string_equal(cfg->redis.sentinel.master_name, "mymaster");
    assert_int_equal(cfg->redis.sentinel.n_nodes, 2);
    assert_string_equal(cfg->redis.sentinel.nodes[0].host, "10.0.0.1");
    assert_int_equal(cfg->redis.sentinel.nodes[0].port, 26379);
    assert_string_equal(cfg->redis.sentinel.nodes[1].host, "fd00::1");
    assert_int_equal(cfg->redis.sentinel.nodes[1].port, 26380);
    assert_null(cfg->redis.sentinel.password);
    assert_int_equal(cfg->redis.db, 2);
    assert_int_equal(cfg->redis.replica_acks, 0);
    assert_int_equal(cfg->redis.replica_ack_timeout_ms, 1000);
    assert_int_equal(cfg->redis.cluster.n_nodes, 0);
    bp_config_free(cfg);

    cfg = load_text(
        "redis = { replica_acks = 2; replica_ack_timeout_ms = 250;\n"
        "  cluster = { nodes = [ \"h1:7000\" ]; }; };\n"
        "queues = ( { name = \"q\"; prefix = \"{bull}\"; handlers = ( { job = "
        "\"*\"; type = \"echo\"; } ); },\n"
        "  { name = \"{emails}\"; handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n");
    assert_int_equal(cfg->redis.cluster.n_nodes, 1);
    assert_string_equal(cfg->redis.cluster.nodes[0].host, "h1");
    assert_int_equal(cfg->redis.cluster.nodes[0].port, 7000);
    assert_int_equal(cfg->redis.replica_acks, 2);
    assert_int_equal(cfg->redis.replica_ack_timeout_ms, 250);
    bp_config_free(cfg);

    expect_error("redis = { sentinel = { nodes = [ \"h:1\" ]; }; };\n" Q1, 1,
                 "redis.sentinel.master_name: missing; add master_name = ...; (the master's name "
                 "in the sentinels' configuration)");
    expect_error("redis = { sentinel = { master_name = \"m\"; nodes = [ \"h\" ]; }; };\n" Q1, 1,
                 "redis.sentinel.nodes[0]: \"h\" is not \"host:port\"; write e.g. "
                 "\"10.0.0.1:26379\" or \"[fd00::1]:26379\"");
    expect_error("redis = { sentinel = { master_name = \"m\"; nodes = [ \"h:0\" ]; }; };\n" Q1, 1,
                 "redis.sentinel.nodes[0]: \"h:0\" is not \"host:port\"; write e.g. "
                 "\"10.0.0.1:26379\" or \"[fd00::1]:26379\"");
    expect_error("redis = { cluster = { nodes = [ ]; }; };\n" Q1, 1,
                 "redis.cluster.nodes: is empty; give at least one \"host:port\"");
    expect_error("redis = { cluster = { nodes = [ \"h:1\" ]; };\n"
                 "  sentinel = { master_name = \"m\"; nodes = [ \"h:2\" ]; }; };\n" Q1,
                 1,
                 "redis.cluster: given together with redis.sentinel; a Redis is either watched "
                 "by sentinels or a cluster: keep one of them");
    expect_error("redis = { cluster = { nodes = [ \"h:1\" ]; }; };\n" Q1, 2,
                 "queues[0].prefix: \"bull\" (queue 'q') has no hash tag, but on Redis Cluster "
                 "Bull's keys of one queue must share a slot for its scripts; write prefix = "
                 "\"{bull}\"; in this queue and in Bull's producers (new Queue(name, { prefix: "
                 "'{bull}' }))");
    expect_error("redis = { url = \"redis://h/1\"; cluster = { nodes = [ \"h:1\" ]; }; };\n"
                 "queues = ( { name = \"q\"; prefix = \"{b}\"; handlers = ( { job = \"*\"; "
                 "type = \"echo\"; } ); } );\n",
                 1,
                 "redis.url: selects database 1, but a Redis Cluster has only database 0; drop "
                 "the /1 from the URL");
    expect_error("redis = { replica_acks = 17; };\n" Q1, 1,
                 "redis.replica_acks: 17 is out of range; use a value from 0 to 16");
}

static void test_handler_errors(void **state)
{
    (void)state;
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; type = \"docs\"; }\n"
                 "); } );\n",
                 2,
                 "queues[0].handlers[0].type: unknown value \"docs\"; use \"document\", \"exec\", "
                 "\"plugin\", \"echo\", \"sleep\" or \"fail\"");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; }\n); } );\n", 2,
                 "queues[0].handlers[0].type: missing; add type = ...; (document, exec, plugin, "
                 "echo, sleep or fail)");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { type = \"echo\"; }\n); } );\n", 2,
                 "queues[0].handlers[0].job: missing; add job = ...; (job name, or \"*\" for any "
                 "(an exact name wins))");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; type = \"echo\";\n"
                 "    chunk_words = 10; }\n); } );\n",
                 3,
                 "queues[0].handlers[0].chunk_words: applies only to document handlers, not to "
                 "type \"echo\"; remove it or change the type");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; type = \"document\";\n"
                 "    argv = [\"/bin/cat\"]; }\n); } );\n",
                 3,
                 "queues[0].handlers[0].argv: applies only to exec handlers, not to type "
                 "\"document\"; remove it or change the type");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"a\"; type = \"echo\"; },\n"
                 "  { job = \"a\"; type = \"fail\"; }\n); } );\n",
                 3,
                 "queues[0].handlers[1].job: a handler for job \"a\" is already defined at line "
                 "2; keep one of them");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"x\"; type = \"exec\"; }\n"
                 "); } );\n",
                 2,
                 "queues[0].handlers[0].argv: missing; an exec handler needs argv = "
                 "[\"/path/to/program\", \"arg\", ...];");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"x\"; type = \"exec\";\n"
                 "    argv = [ ]; }\n); } );\n",
                 3,
                 "queues[0].handlers[0].argv: is empty; give at least the program: argv = "
                 "[\"/path/to/program\"];");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"x\"; type = \"exec\";\n"
                 "    argv = [\"cat\", \"-u\"]; }\n); } );\n",
                 3,
                 "queues[0].handlers[0].argv[0]: \"cat\" is not an absolute path; give the "
                 "program's full path (no shell and no PATH search is used)");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"x\"; type = \"exec\";\n"
                 "    argv = [\"/nonexistent/bullpen-thumb\"]; }\n); } );\n",
                 3,
                 "queues[0].handlers[0].argv[0]: cannot execute \"/nonexistent/bullpen-thumb\": "
                 "No such file or directory; install it or fix the path");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"x\"; type = \"exec\";\n"
                 "    argv = (\"/bin/cat\", 1); }\n); } );\n",
                 3,
                 "queues[0].handlers[0].argv[1]: must be a string; quote every argument, numbers "
                 "too");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"x\"; type = \"plugin\"; }\n"
                 "); } );\n",
                 2,
                 "queues[0].handlers[0].path: missing; a plugin handler needs path = "
                 "\"/path/to/plugin.so\";");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"x\"; type = \"plugin\";\n"
                 "    path = \"/p.so\"; settings = { deep = { a = 1; }; }; }\n); } );\n",
                 3,
                 "queues[0].handlers[0].settings.deep: must be a string, number or boolean; "
                 "plugins get scalar settings only (encode structure in a string)");
}

static void test_enums(void **state)
{
    bp_config *cfg;

    (void)state;
    expect_error(Q_MIN "redis = { tls = { min_version = \"TLSv1.1\"; }; };\n", 2,
                 "redis.tls.min_version: unknown value \"TLSv1.1\"; use \"TLSv1.2\" or "
                 "\"TLSv1.3\"");
    expect_error(Q_MIN "log = { level = \"verbose\"; };\n", 2,
                 "log.level: unknown level \"verbose\"; use debug, info, notice, warn, error, "
                 "crit or alert");
    expect_error(Q_MIN "log = { format = \"js\non\"; };\n", 2,
                 "log.format: unknown value \"js?on\"; use \"text\" or \"json\"");
    expect_error(Q_MIN "log = { format = \"xml\"; };\n", 2,
                 "log.format: unknown value \"xml\"; use \"text\" or \"json\"");
    cfg = load_text(Q_MIN "log = { level = \"warning\"; format = \"json\"; };\n");
    assert_int_equal(cfg->log.level, BP_LOG_WARN);
    assert_int_equal(cfg->log.format, BP_LOG_JSON);
    bp_config_free(cfg);
}

static void test_tls_pair(void **state)
{
    (void)state;
    expect_error(Q_MIN "redis = {\n  tls = { cert_file = \"/c.pem\"; };\n};\n", 3,
                 "redis.tls.cert_file: given without key_file; give both for mutual TLS, or "
                 "neither");
    expect_error(Q_MIN "redis = {\n  tls = {\n    key_file = \"/k.pem\"; };\n};\n", 4,
                 "redis.tls.key_file: given without cert_file; give both for mutual TLS, or "
                 "neither");
}

static void test_password_file(void **state)
{
    char pw[PATH_MAX], text[2 * PATH_MAX], rest[PATH_MAX + 256];
    bp_config *cfg;

    (void)state;
    tmp_path(pw, sizeof(pw), "redis.pass");
    write_file(pw, "p@ss:word\n");
    snprintf(text, sizeof(text),
             Q_MIN "redis = {\n  url = \"rediss://default@localhost:6380\";\n"
                   "  password_file = \"redis.pass\";\n};\n");
    cfg = load_text(text); /* relative: next to the config file */
    assert_string_equal(cfg->redis.password, "p@ss:word");
    assert_string_equal(cfg->redis.password_file, pw);
    assert_string_equal(cfg->redis.username, "default");
    assert_string_equal(cfg->redis.url_redacted, "rediss://default:***@localhost:6380/0");
    bp_config_free(cfg);

    write_file(pw, "crlf\r\n");
    cfg = load_text(text);
    assert_string_equal(cfg->redis.password, "crlf");
    bp_config_free(cfg);

    write_file(pw, "\n");
    snprintf(rest, sizeof(rest),
             "redis.password_file: \"%s\" is empty; put the password alone on its first line, "
             "or remove the key to connect without AUTH",
             pw);
    expect_error(text, 4, rest);

    unlink(pw);
    snprintf(rest, sizeof(rest),
             "redis.password_file: cannot read \"%s\": No such file or directory; create it "
             "(readable only by bullpen's user) or fix the path",
             pw);
    expect_error(text, 4, rest);

    expect_error(Q_MIN "redis = {\n  password = \"a\";\n  password_file = \"/x\";\n};\n", 4,
                 "redis.password_file: given together with redis.password; keep one of them");
    expect_error(Q_MIN "redis = {\n  url = \"redis://:a@h\";\n  password = \"b\";\n};\n", 3,
                 "redis.url: holds a password and redis.password gives another; keep one of "
                 "them (password_file keeps it out of this file)");
}

static void test_env_overrides(void **state)
{
    char pw[PATH_MAX], text[2 * PATH_MAX];
    bp_config *cfg;
    bp_err err = {0};

    (void)state;
    tmp_path(pw, sizeof(pw), "missing.pass");
    snprintf(text, sizeof(text),
             Q_MIN "redis = { url = \"redis://file-host:1234/1\"; password_file = \"%s\"; };\n",
             pw);
    setenv("BULLPEN_REDIS_URL", "rediss://envuser@env-host:6390/2", 1);
    setenv("BULLPEN_REDIS_PASSWORD", "env-secret", 1);
    cfg = load_text(text); /* the missing password_file is not read: the environment wins */
    assert_int_equal(cfg->redis.transport, BP_TRANSPORT_TLS);
    assert_string_equal(cfg->redis.host, "env-host");
    assert_int_equal(cfg->redis.port, 6390);
    assert_int_equal(cfg->redis.db, 2);
    assert_string_equal(cfg->redis.username, "envuser");
    assert_string_equal(cfg->redis.password, "env-secret");
    assert_null(cfg->redis.password_file);
    bp_config_free(cfg);

    unsetenv("BULLPEN_REDIS_PASSWORD");
    setenv("BULLPEN_REDIS_URL", "redis://:url-secret@env-host", 1);
    cfg = load_text(text);
    assert_string_equal(cfg->redis.password, "url-secret");
    assert_string_equal(cfg->redis.url_redacted, "redis://:***@env-host:6379/0");
    bp_config_free(cfg);

    setenv("BULLPEN_REDIS_URL", "http://env-host", 1);
    tmp_path(pw, sizeof(pw), "t.conf");
    write_file(pw, Q_MIN);
    assert_int_equal(bp_config_load(&cfg, pw, &err), -1);
    assert_string_equal(err.msg, "BULLPEN_REDIS_URL (environment): unknown scheme 'http://'; use "
                                 "redis:// (TCP), rediss:// (TLS) or unix:// (socket)");
    unsetenv("BULLPEN_REDIS_URL");

    setenv("BULLPEN_REDIS_PASSWORD", "only-env", 1);
    cfg = load_text(Q_MIN);
    assert_string_equal(cfg->redis.password, "only-env");
    unsetenv("BULLPEN_REDIS_PASSWORD");
    bp_config_free(cfg);
}

static char *print_text(const bp_config *cfg);

/* redis.url_env: the URL from the application's own variable, its password kept out of
 * the printed configuration; unset, empty, invalid, or together with url: one clear line. */
static void test_url_env(void **state)
{
    bp_config *cfg;
    char *out;

    (void)state;
    setenv("BP_TEST_REDIS_URL", "rediss://app:s3cret-pw@cache.example:6380/3", 1);
    cfg = load_text(Q_MIN "redis = {\n  url_env = \"BP_TEST_REDIS_URL\";\n};\n");
    assert_int_equal(cfg->redis.transport, BP_TRANSPORT_TLS);
    assert_string_equal(cfg->redis.host, "cache.example");
    assert_int_equal(cfg->redis.port, 6380);
    assert_int_equal(cfg->redis.db, 3);
    assert_string_equal(cfg->redis.username, "app");
    assert_string_equal(cfg->redis.password, "s3cret-pw");
    assert_string_equal(cfg->redis.url_env, "BP_TEST_REDIS_URL");
    assert_string_equal(cfg->redis.url_from, "BP_TEST_REDIS_URL");
    assert_string_equal(cfg->redis.url_redacted, "rediss://app:***@cache.example:6380/3");
    out = print_text(cfg);
    assert_null(strstr(out, "s3cret-pw"));
    assert_non_null(strstr(out, "# url = \"rediss://app:***@cache.example:6380/3\"; # from the "
                                "environment variable BP_TEST_REDIS_URL"));
    assert_non_null(strstr(out, "url_env = \"BP_TEST_REDIS_URL\";"));
    bp_config_free(cfg);
    cfg = load_text(out); /* the printed configuration loads again */
    assert_string_equal(cfg->redis.host, "cache.example");
    free(out);
    bp_config_free(cfg);

    /* BULLPEN_REDIS_URL still wins */
    setenv("BULLPEN_REDIS_URL", "redis://other:6379/0", 1);
    cfg = load_text(Q_MIN "redis = {\n  url_env = \"BP_TEST_REDIS_URL\";\n};\n");
    assert_string_equal(cfg->redis.host, "other");
    assert_string_equal(cfg->redis.url_from, "BULLPEN_REDIS_URL");
    bp_config_free(cfg);
    unsetenv("BULLPEN_REDIS_URL");

    setenv("BP_TEST_REDIS_URL", "http://:s3cret-pw@x", 1);
    expect_error(Q_MIN "redis = {\n  url_env = \"BP_TEST_REDIS_URL\";\n};\n", 3,
                 "redis.url_env: the URL in the environment variable BP_TEST_REDIS_URL: unknown "
                 "scheme 'http://'; use redis:// (TCP), rediss:// (TLS) or unix:// (socket); fix "
                 "it where BP_TEST_REDIS_URL is set");
    setenv("BP_TEST_REDIS_URL", "", 1);
    expect_error(Q_MIN "redis = {\n  url_env = \"BP_TEST_REDIS_URL\";\n};\n", 3,
                 "redis.url_env: the environment variable BP_TEST_REDIS_URL is empty; export it "
                 "(e.g. from the app's .env: BP_TEST_REDIS_URL=rediss://...), or set redis.url "
                 "instead");
    unsetenv("BP_TEST_REDIS_URL");
    expect_error(Q_MIN "redis = {\n  url_env = \"BP_TEST_REDIS_URL\";\n};\n", 3,
                 "redis.url_env: the environment variable BP_TEST_REDIS_URL is not set; export "
                 "it (e.g. from the app's .env: BP_TEST_REDIS_URL=rediss://...), or set "
                 "redis.url instead");
    expect_error(Q_MIN "redis = {\n  url = \"redis://h\";\n  url_env = \"REDIS_URL\";\n};\n", 4,
                 "redis.url_env: given together with redis.url (line 3); keep one of them: "
                 "url_env reads the URL from the environment instead of url");
    expect_error(Q_MIN "redis = {\n  url_env = \"REDIS URL\";\n};\n", 3,
                 "redis.url_env: \"REDIS URL\" is not an environment variable name (letters, "
                 "digits, _); write e.g. url_env = \"REDIS_URL\";");
}

/* allowed_dirs (document) and env (exec): checked at load with file:line. */
static void test_confine_keys(void **state)
{
    char text[4 * PATH_MAX], rest[2 * PATH_MAX], file[PATH_MAX];
    bp_config *cfg;
    char *out;

    (void)state;
    tmp_path(file, sizeof(file), "plain.txt");
    write_file(file, "x");
    snprintf(text, sizeof(text),
             "queues = ( { name = \"q\"; handlers = (\n"
             "  { job = \"*\"; type = \"document\";\n"
             "    allowed_dirs = [ \"%s/\", \"/tmp\" ]; },\n"
             "  { job = \"x\"; type = \"exec\"; argv = [\"/bin/cat\"];\n"
             "    env = [ \"MY_VAR\", \"TOKEN=abc\" ]; }\n"
             ");\n} );\n",
             tmpdir);
    cfg = load_text(text);
    assert_int_equal(cfg->queues[0].handlers[0].n_allowed_dirs, 2);
    assert_string_equal(cfg->queues[0].handlers[0].allowed_dirs[0], tmpdir); /* no '/' */
    assert_int_equal(cfg->queues[0].handlers[1].n_env, 2);
    out = print_text(cfg);
    assert_non_null(strstr(out, "allowed_dirs = [ \""));
    assert_non_null(strstr(out, "env = [ \"MY_VAR\", \"TOKEN=***\" ];"));
    assert_null(strstr(out, "abc"));
    free(out);
    bp_config_free(cfg);

#define DOC_DIRS(v)                                                                    \
    "queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; type = \"document\";\n" \
    "    allowed_dirs = " v "; }\n);\n} );\n"
    expect_error(DOC_DIRS("[ \"srv/uploads\" ]"), 3,
                 "queues[0].handlers[0].allowed_dirs[0]: \"srv/uploads\" is not an absolute "
                 "path; give the directory's full path, e.g. \"/srv/uploads\"");
    expect_error(DOC_DIRS("[ \"/tmp/../etc\" ]"), 3,
                 "queues[0].handlers[0].allowed_dirs[0]: \"/tmp/../etc\" has a \".\" or \"..\" "
                 "component; write the directory plainly, e.g. \"/srv/uploads\"");
    expect_error(DOC_DIRS("[ \"/nonexistent-bp\" ]"), 3,
                 "queues[0].handlers[0].allowed_dirs[0]: cannot use \"/nonexistent-bp\": No such "
                 "file or directory; create the directory or fix the path");
    expect_error(DOC_DIRS("[ \"/tmp\", \"/tmp/\" ]"), 3,
                 "queues[0].handlers[0].allowed_dirs[1]: \"/tmp\" is listed twice; keep one");
    expect_error(DOC_DIRS("[ ]"), 3,
                 "queues[0].handlers[0].allowed_dirs: is empty; write allowed_dirs = [ "
                 "\"/srv/uploads\" ]; or remove the key");
    expect_error(DOC_DIRS("\"/tmp\""), 3,
                 "queues[0].handlers[0].allowed_dirs: must be an array of strings; write "
                 "allowed_dirs = [ \"/srv/uploads\" ];");
    snprintf(text, sizeof(text), DOC_DIRS("[ \"%s\" ]"), file);
    snprintf(rest, sizeof(rest),
             "queues[0].handlers[0].allowed_dirs[0]: \"%s\" is not a directory; list "
             "directories only",
             file);
    expect_error(text, 3, rest);
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; type = \"echo\";\n"
                 "    allowed_dirs = [ \"/tmp\" ]; }\n);\n} );\n",
                 3,
                 "queues[0].handlers[0].allowed_dirs: applies only to document handlers, not to "
                 "type \"echo\"; remove it or change the type");
    expect_error("queues = ( { name = \"q\"; handlers = (\n  { job = \"*\"; type = \"exec\";\n"
                 "    argv = [\"/bin/cat\"]; env = [ \"=x\" ]; }\n);\n} );\n",
                 3,
                 "queues[0].handlers[0].env[0]: \"=x\" does not start with a variable name "
                 "(letters, digits, _); write \"NAME\" or \"NAME=value\"");
#undef DOC_DIRS
}

static void test_bad_url(void **state)
{
    (void)state;
    expect_error(Q_MIN "redis = {\n  url = \"redis://h:0\";\n};\n", 3,
                 "redis.url: port '0' is not a port number; use 1-65535 (or leave it out for "
                 "6379)");
}

static void test_control_key(void **state)
{
    char key[PATH_MAX], text[2 * PATH_MAX], rest[3 * PATH_MAX];
    bp_config *cfg;

    (void)state;
    tmp_path(key, sizeof(key), "control.key");
    snprintf(text, sizeof(text), Q_MIN "pool = {\n  control_key_file = \"%s\";\n};\n", key);
    write_file(key, "0123456789abcdef0123456789abcdef\n");
    cfg = load_text(text);
    assert_int_equal(cfg->pool.control_key_len, 32);
    assert_memory_equal(cfg->pool.control_key, "0123456789abcdef0123456789abcdef", 32);
    assert_string_equal(cfg->pool.control_key_file, key);
    bp_config_free(cfg);

    write_file(key, "short\n");
    snprintf(rest, sizeof(rest),
             "pool.control_key_file: \"%s\" holds 5 bytes, fewer than 16; make a longer key, "
             "e.g. openssl rand -hex 32 > %s",
             key, key);
    expect_error(text, 3, rest);
    write_file(key, "");
    snprintf(rest, sizeof(rest),
             "pool.control_key_file: \"%s\" holds 0 bytes, fewer than 16; make a longer key, "
             "e.g. openssl rand -hex 32 > %s",
             key, key);
    expect_error(text, 3, rest);
}

/* Print to a string. */
static char *print_text(const bp_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    bp_config_print(cfg, f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_print_redacts(void **state)
{
    char key[PATH_MAX], text[2 * PATH_MAX];
    bp_config *cfg;
    char *out;

    (void)state;
    tmp_path(key, sizeof(key), "control.key");
    write_file(key, "KEY-0123456789abcdef-KEY\n");
    snprintf(text, sizeof(text),
             Q_MIN "redis = { url = \"redis://user:url-pass%%40x@h/1\"; };\n"
                   "pool = { control_key_file = \"%s\"; };\n",
             key);
    cfg = load_text(text);
    assert_string_equal(cfg->redis.password, "url-pass@x");
    out = print_text(cfg);
    assert_null(strstr(out, "url-pass"));
    assert_null(strstr(out, "KEY-0123"));
    assert_non_null(strstr(out, "url = \"redis://user:***@h:6379/1\";"));
    assert_non_null(strstr(out, "password = \"***\";"));
    assert_non_null(strstr(out, "# pool.control_key: *** (loaded)"));
    free(out);
    bp_config_free(cfg);

    setenv("BULLPEN_REDIS_PASSWORD", "env-pass-xyz", 1);
    cfg = load_text(Q_MIN);
    out = print_text(cfg);
    assert_null(strstr(out, "env-pass-xyz"));
    unsetenv("BULLPEN_REDIS_PASSWORD");
    free(out);
    bp_config_free(cfg);
}

/* The printed configuration is valid libconfig that loads to the same configuration. */
static void test_print_round_trip(void **state)
{
    char path[PATH_MAX];
    bp_config *cfg, *again;
    char *out, *out2;

    (void)state;
    snprintf(path, sizeof(path), "%s/full.conf", BP_TEST_DATA);
    bp_err err = {0};
    assert_int_equal(bp_config_load(&cfg, path, &err), 0);
    out = print_text(cfg);
    /* every key of the file shows up */
    const char *keys[] = {"url =",
                          "tls = {",
                          "ca_file =",
                          "ca_dir =",
                          "cert_file =",
                          "key_file =",
                          "server_name =",
                          "verify = false;",
                          "min_version = \"TLSv1.3\";",
                          "connect_timeout_ms = 1500;",
                          "command_timeout_ms = 4000;",
                          "keepalive_s = 0;",
                          "user = \"bullpen\";",
                          "group = \"daemon\";",
                          "pidfile =",
                          "heartbeat_ms = 200;",
                          "hung_after_ms = 3000;",
                          "shutdown_timeout_ms = 5000;",
                          "max_jobs_per_worker = 1000;",
                          "max_rss_mb = 512;",
                          "control_key_file = \"\";",
                          "control_channel = \"ops:control\";",
                          "name = \"docs\";",
                          "prefix = \"app\";",
                          "workers = 4;",
                          "lock_duration_ms = 20000;",
                          "lock_renew_ms = 5000;",
                          "stalled_interval_ms = 15000;",
                          "max_stalled = 3;",
                          "job_timeout_ms = 60000;",
                          "block_timeout_s = 2;",
                          "job = \"*\";",
                          "type = \"document\";",
                          "chunk_words = 100;",
                          "overlap_words = 10;",
                          "cache_ttl_s = 60;",
                          "max_bytes = 4294967296L;",
                          "argv = [ \"/bin/cat\", \"-u\" ];",
                          "timeout_ms = 1000;",
                          "path = \"",
                          "settings = { lang = \"eng\"; dpi = \"300\"; fast = \"true\"; ratio = "
                          "\"0.5\"; };",
                          "level = \"debug\";",
                          "file = \"/var/log/bullpen.log\";",
                          "syslog = true;",
                          "format = \"json\";",
                          "listen = \"127.0.0.1:9187\";"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strstr(out, keys[i]) == NULL)
            fail_msg("printed config lacks '%s':\n%s", keys[i], out);
    assert_null(strstr(out, "s3cret-inline"));
    bp_config_free(cfg);

    /* without secrets the output loads back to the same output */
    cfg = load_text("queues = ( { name = \"q\"; handlers = (\n"
                    "  { job = \"*\"; type = \"document\"; max_bytes = 4294967296L; },\n"
                    "  { job = \"c\"; type = \"exec\"; argv = [\"/bin/cat\", \"a \\\"q\\\"\"]; },\n"
                    "  { job = \"p\"; type = \"plugin\"; path = \"/p.so\"; settings = { a = 1; }; }"
                    "\n); } );\nmetrics = { listen = \"[::1]:9187\"; };\n");
    free(out);
    out = print_text(cfg);
    tmp_path(path, sizeof(path), "printed.conf");
    write_file(path, out);
    if (bp_config_load(&again, path, &err) != 0)
        fail_msg("%s\n%s", err.msg, out);
    out2 = print_text(again);
    assert_string_equal(strchr(out, '\n'), strchr(out2, '\n')); /* line 1 names the file */
    free(out);
    free(out2);
    bp_config_free(again);
    bp_config_free(cfg);
}

static void test_route(void **state)
{
    bp_config *cfg;
    const bp_queue_config *q;

    (void)state;
    cfg = load_text("queues = (\n"
                    "  { name = \"a\"; workers = 2; handlers = (\n"
                    "      { job = \"*\"; type = \"document\"; },\n"
                    "      { job = \"echo\"; type = \"echo\"; } ); },\n"
                    "  { name = \"b\"; workers = 3; handlers = (\n"
                    "      { job = \"fail\"; type = \"fail\"; } ); }\n);\n");
    q = bp_config_queue(cfg, NULL);
    assert_string_equal(q->name, "a");
    assert_ptr_equal(bp_config_queue(cfg, "b"), &cfg->queues[1]);
    assert_null(bp_config_queue(cfg, "c"));
    /* the exact name wins although "*" comes first */
    assert_int_equal(bp_config_route(q, "echo")->type, BP_HANDLER_ECHO);
    assert_int_equal(bp_config_route(q, "anything")->type, BP_HANDLER_DOCUMENT);
    assert_int_equal(bp_config_route(q, "echo")->line, 4);
    q = bp_config_queue(cfg, "b");
    assert_int_equal(bp_config_route(q, "fail")->type, BP_HANDLER_FAIL);
    assert_null(bp_config_route(q, "other"));
    assert_int_equal(bp_config_total_workers(cfg), 5);
    assert_string_equal(bp_handler_type_name(BP_HANDLER_EXEC), "exec");
    bp_config_free(cfg);
}

/* @include is relative to the including file; errors name the included file and line. */
static void test_include(void **state)
{
    char inc[PATH_MAX], path[PATH_MAX], want[2 * PATH_MAX];
    bp_config *cfg = NULL;
    bp_err err = {0};

    (void)state;
    tmp_path(inc, sizeof(inc), "pool.inc");
    write_file(inc, "\npool = { workerz = 1; };\n");
    tmp_path(path, sizeof(path), "t.conf");
    write_file(path, Q_MIN "@include \"pool.inc\"\n");
    assert_int_equal(bp_config_load(&cfg, path, &err), -1);
    snprintf(want, sizeof(want), "%s:2: pool.workerz: unknown key", inc);
    assert_memory_equal(err.msg, want, strlen(want));
    write_file(inc, "\npool = { heartbeat_ms = 100; };\n");
    cfg = load_text(Q_MIN "@include \"pool.inc\"\n");
    assert_int_equal(cfg->pool.heartbeat_ms, 100);
    bp_config_free(cfg);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int c;

    if (f == NULL)
        fail_msg("cannot open %s", path);
    assert_non_null(m);
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    assert_int_equal(fclose(m), 0);
    return buf;
}

/* Every key of the table is documented in bullpen.conf(5) and shown in the example. */
/* A queue's limiter and metrics groups: parsed, defaulted, printed and read back, and
 * refused with the key named when incomplete or unsafe. */
static void test_limiter_metrics(void **state)
{
    bp_config *cfg, *again;
    char path[PATH_MAX], *out;
    bp_err err = {0};

    (void)state;
    cfg = load_text("queues = (\n"
                    "  { name = \"a\"; limiter = { max = 5; duration_ms = 1000; group_key = "
                    "\"user.id\"; };\n"
                    "    metrics = { max_data_points = 60; }; log_max_lines = 7;\n"
                    "    handlers = ( { job = \"*\"; type = \"echo\"; } ); },\n"
                    "  { name = \"b\"; handlers = ( { job = \"*\"; type = \"echo\"; } ); }\n"
                    ");\n");
    assert_int_equal(cfg->queues[0].limiter.max, 5);
    assert_int_equal(cfg->queues[0].limiter.duration_ms, 1000);
    assert_false(cfg->queues[0].limiter.bounce_back);
    assert_string_equal(cfg->queues[0].limiter.group_key, "user.id");
    assert_int_equal(cfg->queues[0].limiter.line, 2);
    assert_int_equal(cfg->queues[0].metrics_max_points, 60);
    assert_int_equal(cfg->queues[0].log_max_lines, 7);
    assert_int_equal(cfg->queues[0].log_max_line_bytes, 2048);
    /* absent groups: off */
    assert_int_equal(cfg->queues[1].limiter.max, 0);
    assert_null(cfg->queues[1].limiter.group_key);
    assert_int_equal(cfg->queues[1].metrics_max_points, 0);
    assert_int_equal(cfg->queues[1].log_max_lines, 1000);
    out = print_text(cfg);
    assert_non_null(strstr(out, "limiter = {\n      max = 5;\n      duration_ms = 1000;\n"
                                "      bounce_back = false;\n      group_key = \"user.id\";\n"
                                "    };  # at most 5 jobs started per 1000 ms over all workers, "
                                "per value of data.user.id; limited jobs wait in delayed\n"));
    assert_non_null(strstr(out, "metrics = {\n      max_data_points = 60;\n    };\n"));
    assert_non_null(strstr(out, "# limiter: none"));
    assert_non_null(strstr(out, "# metrics: off"));
    /* what check prints loads again to the same values */
    tmp_path(path, sizeof(path), "printed.conf");
    write_file(path, out);
    assert_int_equal(bp_config_load(&again, path, &err), 0);
    assert_int_equal(again->queues[0].limiter.max, 5);
    assert_string_equal(again->queues[0].limiter.group_key, "user.id");
    assert_int_equal(again->queues[0].metrics_max_points, 60);
    assert_int_equal(again->queues[1].limiter.max, 0);
    bp_config_free(again);
    free(out);
    bp_config_free(cfg);

    expect_error("queues = ( { name = \"q\";\n limiter = { max = 2; };\n"
                 " handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 2,
                 "queues[0].limiter.duration_ms: missing; add duration_ms = ...; (the window in "
                 "ms (required))");
    expect_error("queues = ( { name = \"q\";\n limiter = { duration_ms = 2; max = 0; };\n"
                 " handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 2, "queues[0].limiter.max: 0 is out of range; use a value of at least 1");
    expect_error("queues = ( { name = \"q\"; limiter = { max = 2; duration_ms = 9;\n"
                 " bounce_back = true; }; handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 2,
                 "queues[0].limiter.bounce_back: true is refused: Bull's bounceBack takes a "
                 "limited job out of active and puts it nowhere else, so the job is lost; use "
                 "bounce_back = false (limited jobs wait in delayed, as Bull does)");
    expect_error("queues = ( { name = \"q\"; limiter = { max = 2; duration = 9; };\n"
                 " handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 1, "queues[0].limiter.duration: unknown key; did you mean \"duration_ms\"?");
    expect_error("queues = ( { name = \"q\"; limiter = 5;\n"
                 " handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 1,
                 "queues[0].limiter: must be a group; write limiter = { max = 10; duration_ms = "
                 "1000; bounce_back = false; };");
    expect_error("queues = ( { name = \"q\"; metrics = { };\n"
                 " handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 1,
                 "queues[0].metrics.max_data_points: missing; add max_data_points = ...; "
                 "(per-minute points kept (Bull maxDataPoints))");
    expect_error("queues = ( { name = \"q\"; log_max_line_bytes = 8;\n"
                 " handlers = ( { job = \"*\"; type = \"echo\"; } ); } );\n",
                 1,
                 "queues[0].log_max_line_bytes: 8 is out of range; use a value from 16 to "
                 "1048576");
}

static void test_docs_cover_every_key(void **state)
{
    char path[PATH_MAX], want[128];
    char *man, *example;

    (void)state;
    snprintf(path, sizeof(path), "%s/../../../docs/bullpen.conf.5", BP_TEST_DATA);
    man = read_all(path);
    snprintf(path, sizeof(path), "%s/../../../config/bullpen.conf.example", BP_TEST_DATA);
    example = read_all(path);
    for (size_t i = 0; i < bp_config_n_keys; i++) {
        const bp_config_key *k = &bp_config_keys[i];

        snprintf(want, sizeof(want), ".BR %s \"", k->name);
        if (strstr(man, want) == NULL)
            fail_msg("docs/bullpen.conf.5 does not document '%s' (%s)", k->name,
                     bp_config_scope_name(k->scope));
        snprintf(want, sizeof(want), "%s = ", k->name);
        if (strstr(example, want) == NULL)
            fail_msg("config/bullpen.conf.example does not show '%s'", k->name);
        assert_non_null(k->doc);
    }
    free(man);
    free(example);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_example_loads),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_queue_errors),
        cmocka_unit_test(test_handler_errors),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_tls_pair),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_env_overrides),
        cmocka_unit_test(test_url_env),
        cmocka_unit_test(test_confine_keys),
        cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_control_key),
        cmocka_unit_test(test_print_redacts),
        cmocka_unit_test(test_print_round_trip),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_limiter_metrics),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_docs_cover_every_key),
    };

    return cmocka_run_group_tests_name("bp_config", tests, setup, teardown);
}
