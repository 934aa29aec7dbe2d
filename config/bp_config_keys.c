/* bp_config_keys.c -- THE table of configuration keys, and the keys that need code of their
 * own (the queue and handler lists, exec argv, plugin settings).
 *
 * Every key of bullpen.conf has exactly one row below: its group, type, field, default,
 * range, and the handler types it applies to. The loader, the printer and the unknown-key
 * suggestions all read this table, so a key added here is parsed, range-checked, printed by
 * `bullpen check` and suggested on a typo. Keep docs/bullpen.conf.5 and
 * config/bullpen.conf.example in step with it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/tls1.h>

#include "bp_config_int.h"

#define CFG(f) offsetof(bp_config, f)
#define QUE(f) offsetof(bp_queue_config, f)
#define HND(f) offsetof(bp_handler_config, f)

#define BP_MAX_WORKERS 1024    /* per queue: far above what one host's Redis budget allows */
#define BP_MAX_WORDS   1000000 /* a chunk budget beyond this is surely a typo */
#define BP_MAX_POINTS  1000000 /* metrics points: about two years of minutes */
#define BP_MAX_SBX_MB  1048576 /* 1 TiB: a sandbox limit beyond this is surely a typo */
#define BP_MAX_SBX_S   86400   /* a day of CPU or wall time for one document */

static int parse_url(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base);
static int parse_level(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base);
static int parse_queues(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base);
static int parse_handlers(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                          void *base);
static int parse_argv(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base);
static int parse_settings(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                          void *base);
static int parse_dirs(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base);
static int parse_env(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base);
static int parse_nodes(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base);
static int parse_limiter(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                         void *base);
static int parse_qmetrics(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                          void *base);

static const bp_key_enum tls_versions[] = {
    {"TLSv1.2", TLS1_2_VERSION},
    {"TLSv1.3", TLS1_3_VERSION},
    {NULL, 0},
};

static const bp_key_enum log_formats[] = {
    {"text", BP_LOG_TEXT},
    {"json", BP_LOG_JSON},
    {NULL, 0},
};

static const bp_key_enum handler_types[] = {
    {"document", BP_HANDLER_DOCUMENT},
    {"exec", BP_HANDLER_EXEC},
    {"plugin", BP_HANDLER_PLUGIN},
    {"echo", BP_HANDLER_ECHO},
    {"sleep", BP_HANDLER_SLEEP},
    {"fail", BP_HANDLER_FAIL},
    {NULL, 0},
};

static const bp_key_enum chunk_formats[] = {
    {"text", BP_CHUNK_FORMAT_TEXT},
    {"json", BP_CHUNK_FORMAT_JSON},
    {NULL, 0},
};

#define DOC  BP_HT(BP_HANDLER_DOCUMENT)
#define EXEC BP_HT(BP_HANDLER_EXEC)
#define PLUG BP_HT(BP_HANDLER_PLUGIN)
#define REQ  BP_KEYF_REQUIRED
#define NONE BP_KEYF_NONEMPTY
#define PATH BP_KEYF_PATH

/* clang-format off */
const bp_config_key bp_config_keys[] = {
    /* top level */
    {BP_SCOPE_ROOT, "redis", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, 0, BP_SCOPE_REDIS, NULL, NULL,
     "the Redis server and how to reach it"},
    {BP_SCOPE_ROOT, "pool", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, 0, BP_SCOPE_POOL, NULL, NULL,
     "the master and its worker processes"},
    {BP_SCOPE_ROOT, "queues", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, REQ, 0, 0, NULL, parse_queues,
     "the Bull queues to serve: a list of groups, at least one"},
    {BP_SCOPE_ROOT, "log", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, 0, BP_SCOPE_LOG, NULL, NULL,
     "logging"},
    {BP_SCOPE_ROOT, "metrics", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, 0, BP_SCOPE_METRICS, NULL,
     NULL, "the Prometheus endpoint"},

    /* redis */
    {BP_SCOPE_REDIS, "url", BP_KEY_SPECIAL, 0, 0, "redis://127.0.0.1:6379/0", 0, 0, 0, 0, 0,
     NULL, parse_url, "redis://, rediss:// (TLS) or unix:// URL; BULLPEN_REDIS_URL overrides"},
    {BP_SCOPE_REDIS, "url_env", BP_KEY_STRING, CFG(redis.url_env), 0, "", 0, 0, 0, 0, 0, NULL,
     NULL, "take the URL from this environment variable instead of url, \"\" = url"},
    {BP_SCOPE_REDIS, "password", BP_KEY_SPECIAL, 0, 0, "", 0, 0, BP_KEYF_SECRET, 0, 0, NULL,
     parse_url, "AUTH password (or password_file); BULLPEN_REDIS_PASSWORD overrides"},
    {BP_SCOPE_REDIS, "password_file", BP_KEY_STRING, CFG(redis.password_file), 0, "", 0, 0,
     PATH, 0, 0, NULL, NULL, "file holding the AUTH password (one trailing newline dropped)"},
    {BP_SCOPE_REDIS, "tls", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, 0, BP_SCOPE_TLS, NULL, NULL,
     "TLS settings for rediss:// URLs"},
    {BP_SCOPE_REDIS, "connect_timeout_ms", BP_KEY_INT, CFG(redis.connect_timeout_ms), 2000,
     NULL, 1, INT_MAX, 0, 0, 0, NULL, NULL, "TCP connect plus TLS handshake plus AUTH"},
    {BP_SCOPE_REDIS, "command_timeout_ms", BP_KEY_INT, CFG(redis.command_timeout_ms), 5000,
     NULL, 1, INT_MAX, 0, 0, 0, NULL, NULL, "longest wait for a reply (not blocking pulls)"},
    {BP_SCOPE_REDIS, "keepalive_s", BP_KEY_INT, CFG(redis.keepalive_s), 30, NULL, 0, 32767, 0,
     0, 0, NULL, NULL, "TCP keepalive idle time, 0 = off"},

    {BP_SCOPE_REDIS, "sentinel", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, 0, BP_SCOPE_SENTINEL, NULL,
     NULL, "find the master through Redis Sentinel (redis.url's host is then not used)"},
    {BP_SCOPE_REDIS, "cluster", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, 0, BP_SCOPE_CLUSTER, NULL,
     NULL, "Redis Cluster seed nodes (redis.url's host is then not used)"},
    {BP_SCOPE_REDIS, "replica_acks", BP_KEY_INT, CFG(redis.replica_acks), 0, NULL, 0, 16, 0, 0,
     0, NULL, NULL, "replicas that must acknowledge (WAIT) adds, takes and completions, 0 = off"},
    {BP_SCOPE_REDIS, "replica_ack_timeout_ms", BP_KEY_INT, CFG(redis.replica_ack_timeout_ms),
     1000, NULL, 1, INT_MAX, 0, 0, 0, NULL, NULL, "longest wait for those acknowledgements"},

    /* redis.sentinel */
    {BP_SCOPE_SENTINEL, "master_name", BP_KEY_STRING, CFG(redis.sentinel.master_name), 0, "", 0,
     0, REQ | NONE, 0, 0, NULL, NULL, "the master's name in the sentinels' configuration"},
    {BP_SCOPE_SENTINEL, "nodes", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, REQ, 0, 0, NULL, parse_nodes,
     "the sentinels: [ \"host:port\", ... ], at least one"},
    {BP_SCOPE_SENTINEL, "password_file", BP_KEY_STRING, CFG(redis.sentinel.password_file), 0, "",
     0, 0, PATH, 0, 0, NULL, NULL, "the sentinels' own AUTH password, \"\" = none"},

    /* redis.cluster */
    {BP_SCOPE_CLUSTER, "nodes", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, REQ, 0, 0, NULL, parse_nodes,
     "seed nodes: [ \"host:port\", ... ], at least one"},

    /* redis.tls */
    {BP_SCOPE_TLS, "ca_file", BP_KEY_STRING, CFG(redis.tls.ca_file), 0, "", 0, 0, PATH, 0, 0,
     NULL, NULL, "CA bundle to verify the server, \"\" = the system store"},
    {BP_SCOPE_TLS, "ca_dir", BP_KEY_STRING, CFG(redis.tls.ca_dir), 0, "", 0, 0, PATH, 0, 0,
     NULL, NULL, "directory of hashed CA certificates, \"\" = none"},
    {BP_SCOPE_TLS, "cert_file", BP_KEY_STRING, CFG(redis.tls.cert_file), 0, "", 0, 0, PATH, 0,
     0, NULL, NULL, "client certificate for mutual TLS, \"\" = none"},
    {BP_SCOPE_TLS, "key_file", BP_KEY_STRING, CFG(redis.tls.key_file), 0, "", 0, 0, PATH, 0, 0,
     NULL, NULL, "its private key, \"\" = none (needed with cert_file)"},
    {BP_SCOPE_TLS, "server_name", BP_KEY_STRING, CFG(redis.tls.server_name), 0, "", 0, 0, 0, 0,
     0, NULL, NULL, "SNI and the name verified, \"\" = the URL's host"},
    {BP_SCOPE_TLS, "verify", BP_KEY_BOOL, CFG(redis.tls.verify), 1, NULL, 0, 1, 0, 0, 0, NULL,
     NULL, "verify the server's certificate and name"},
    {BP_SCOPE_TLS, "min_version", BP_KEY_ENUM, CFG(redis.tls.min_version), TLS1_2_VERSION,
     "TLSv1.2", 0, 0, 0, 0, 0, tls_versions, NULL, "lowest TLS version: TLSv1.2 or TLSv1.3"},

    /* pool */
    {BP_SCOPE_POOL, "user", BP_KEY_STRING, CFG(pool.user), 0, "", 0, 0, 0, 0, 0, NULL, NULL,
     "user to run as when started as root, \"\" = stay"},
    {BP_SCOPE_POOL, "group", BP_KEY_STRING, CFG(pool.group), 0, "", 0, 0, 0, 0, 0, NULL, NULL,
     "group to run as, \"\" = the user's"},
    {BP_SCOPE_POOL, "pidfile", BP_KEY_STRING, CFG(pool.pidfile), 0, "", 0, 0, PATH, 0, 0, NULL,
     NULL, "pid file of the master, \"\" = none"},
    {BP_SCOPE_POOL, "heartbeat_ms", BP_KEY_INT, CFG(pool.heartbeat_ms), 1000, NULL, 1, INT_MAX,
     0, 0, 0, NULL, NULL, "master ping and worker heartbeat period"},
    {BP_SCOPE_POOL, "hung_after_ms", BP_KEY_INT, CFG(pool.hung_after_ms), 10000, NULL, 1,
     INT_MAX, 0, 0, 0, NULL, NULL, "a worker silent this long is killed (> heartbeat_ms)"},
    {BP_SCOPE_POOL, "probe_ms", BP_KEY_INT, CFG(pool.probe_ms), 60000, NULL, 100, INT_MAX, 0,
     0, 0, NULL, NULL, "period of the ping each worker echoes over Redis (costs 2 commands)"},
    {BP_SCOPE_POOL, "shutdown_timeout_ms", BP_KEY_INT, CFG(pool.shutdown_timeout_ms), 30000,
     NULL, 1, INT_MAX, 0, 0, 0, NULL, NULL, "graceful stop: wait this long for running jobs"},
    {BP_SCOPE_POOL, "max_jobs_per_worker", BP_KEY_INT, CFG(pool.max_jobs_per_worker), 0, NULL,
     0, INT_MAX, 0, 0, 0, NULL, NULL, "recycle a worker after this many jobs, 0 = never"},
    {BP_SCOPE_POOL, "max_rss_mb", BP_KEY_INT, CFG(pool.max_rss_mb), 0, NULL, 0, INT_MAX, 0, 0,
     0, NULL, NULL, "recycle a worker above this RSS, 0 = never"},
    {BP_SCOPE_POOL, "control_key_file", BP_KEY_STRING, CFG(pool.control_key_file), 0, "", 0, 0,
     PATH, 0, 0, NULL, NULL, "HMAC key for bullpen ctl (>= 16 bytes), \"\" = ctl refused"},
    {BP_SCOPE_POOL, "control_channel", BP_KEY_STRING, CFG(pool.control_channel), 0,
     "bullpen:control", 0, 0, NONE, 0, 0, NULL, NULL, "pub/sub channel of control messages"},

    /* queues = ( { ... } ) */
    {BP_SCOPE_QUEUE, "name", BP_KEY_STRING, QUE(name), 0, NULL, 0, 0, REQ | NONE, 0, 0, NULL,
     NULL, "the Bull queue name (required, unique)"},
    {BP_SCOPE_QUEUE, "prefix", BP_KEY_STRING, QUE(prefix), 0, "bull", 0, 0, NONE, 0, 0, NULL,
     NULL, "Bull key prefix"},
    {BP_SCOPE_QUEUE, "workers", BP_KEY_INT, QUE(workers), 1, NULL, 0, BP_MAX_WORKERS, 0, 0, 0,
     NULL, NULL, "worker processes for this queue"},
    {BP_SCOPE_QUEUE, "lock_duration_ms", BP_KEY_INT, QUE(lock_duration_ms), 30000, NULL, 1,
     INT_MAX, 0, 0, 0, NULL, NULL, "job lock time to live (Bull lockDuration)"},
    {BP_SCOPE_QUEUE, "lock_renew_ms", BP_KEY_INT, QUE(lock_renew_ms), 0, "lock_duration_ms / 2",
     1, INT_MAX, 0, 0, 0, NULL, NULL, "lock extension period, < lock_duration_ms"},
    {BP_SCOPE_QUEUE, "stalled_interval_ms", BP_KEY_INT, QUE(stalled_interval_ms), 30000, NULL,
     1, INT_MAX, 0, 0, 0, NULL, NULL, "stalled-job check period (Bull stalledInterval)"},
    {BP_SCOPE_QUEUE, "max_stalled", BP_KEY_INT, QUE(max_stalled), 1, NULL, 0, INT_MAX, 0, 0, 0,
     NULL, NULL, "stalls (or worker deaths) before a job fails (Bull maxStalledCount)"},
    {BP_SCOPE_QUEUE, "job_timeout_ms", BP_KEY_INT, QUE(job_timeout_ms), 0, NULL, 0, INT_MAX, 0,
     0, 0, NULL, NULL, "time limit of every job, 0 = only the job's opts.timeout"},
    {BP_SCOPE_QUEUE, "lease_max", BP_KEY_INT, QUE(lease_max), 16, NULL, 1, 256, 0, 0, 0, NULL,
     NULL, "most jobs a worker takes per round trip from a backlog, 1 = one at a time"},
    {BP_SCOPE_QUEUE, "block_timeout_s", BP_KEY_INT, QUE(block_timeout_s), 30, NULL, 1, 3600, 0,
     0, 0, NULL, NULL, "BRPOPLPUSH timeout when the queue is empty (Bull drainDelay)"},
    {BP_SCOPE_QUEUE, "limiter", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, 0, 0, 0, NULL,
     parse_limiter, "Bull's rate limiter, shared by every worker on every host; absent = none"},
    {BP_SCOPE_QUEUE, "metrics", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, 0, 0, 0, NULL,
     parse_qmetrics, "Bull's metrics:completed / metrics:failed (queue.getMetrics()); absent = off"},
    {BP_SCOPE_QUEUE, "log_max_lines", BP_KEY_INT, QUE(log_max_lines), 1000, NULL, 0, 1000000,
     0, 0, 0, NULL, NULL, "job log lines kept per job (oldest dropped, like keepLogs); 0 = none"},
    {BP_SCOPE_QUEUE, "log_max_line_bytes", BP_KEY_INT, QUE(log_max_line_bytes), 2048, NULL, 16,
     1048576, 0, 0, 0, NULL, NULL, "a longer job log line is cut to this many bytes"},
    {BP_SCOPE_QUEUE, "handlers", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, REQ, 0, 0, NULL,
     parse_handlers, "who runs which job name: a list of groups, at least one"},

    /* a queue's limiter = { ... } (Bull's limiter: max, duration, bounceBack, groupKey) */
    {BP_SCOPE_LIMITER, "max", BP_KEY_INT, QUE(limiter.max), 0, NULL, 1, INT_MAX, REQ, 0, 0,
     NULL, NULL, "jobs started per window, over all workers (required)"},
    {BP_SCOPE_LIMITER, "duration_ms", BP_KEY_INT, QUE(limiter.duration_ms), 0, NULL, 1,
     INT_MAX, REQ, 0, 0, NULL, NULL, "the window in ms (required)"},
    {BP_SCOPE_LIMITER, "bounce_back", BP_KEY_BOOL, QUE(limiter.bounce_back), 0, NULL, 0, 1, 0,
     0, 0, NULL, NULL, "only false: Bull's true drops a limited job from every list"},
    {BP_SCOPE_LIMITER, "group_key", BP_KEY_STRING, QUE(limiter.group_key), 0, "", 0, 0, 0, 0,
     0, NULL, NULL, "data field of per-group limits (the id ends in :<value>), \"\" = none"},

    /* a queue's metrics = { ... } */
    {BP_SCOPE_QMETRICS, "max_data_points", BP_KEY_INT, QUE(metrics_max_points), 0, NULL, 1,
     BP_MAX_POINTS, REQ, 0, 0, NULL, NULL, "per-minute points kept (Bull maxDataPoints)"},

    /* handlers = ( { ... } ) */
    {BP_SCOPE_HANDLER, "job", BP_KEY_STRING, HND(job), 0, NULL, 0, 0, REQ | NONE, 0, 0, NULL,
     NULL, "job name, or \"*\" for any (an exact name wins)"},
    {BP_SCOPE_HANDLER, "type", BP_KEY_ENUM, HND(type), 0, NULL, 0, 0, REQ, 0, 0, handler_types,
     NULL, "document, exec, plugin, echo, sleep or fail"},
    {BP_SCOPE_HANDLER, "chunk_words", BP_KEY_INT, HND(chunk_words), 200, NULL, 1, BP_MAX_WORDS,
     0, DOC, 0, NULL, NULL, "most words in one chunk"},
    {BP_SCOPE_HANDLER, "overlap_words", BP_KEY_INT, HND(overlap_words), 40, NULL, 0,
     BP_MAX_WORDS, 0, DOC, 0, NULL, NULL, "words shared by consecutive chunks, < chunk_words"},
    {BP_SCOPE_HANDLER, "cache_ttl_s", BP_KEY_INT, HND(cache_ttl_s), 86400, NULL, 1, INT_MAX, 0,
     DOC, 0, NULL, NULL, "lifetime of cached chunks and results"},
    {BP_SCOPE_HANDLER, "max_bytes", BP_KEY_INT64, HND(max_bytes), 67108864, NULL, 1,
     INT64_MAX, 0, DOC, 0, NULL, NULL, "largest input accepted (bytes)"},
    {BP_SCOPE_HANDLER, "allowed_dirs", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, 0, DOC, 0, NULL,
     parse_dirs, "directories path jobs may read (absolute); none = path jobs refused"},
    {BP_SCOPE_HANDLER, "chunk_format", BP_KEY_ENUM, HND(chunk_format), BP_CHUNK_FORMAT_TEXT,
     "text", 0, 0, 0, DOC, 0, chunk_formats, NULL,
     "text (each chunk its text) or json (text, offset, pages, heading path)"},
    {BP_SCOPE_HANDLER, "max_pages", BP_KEY_INT, HND(max_pages), 20000, NULL, 1, INT_MAX, 0,
     DOC, 0, NULL, NULL, "most pages, slides, sheets or chapters in a document"},
    {BP_SCOPE_HANDLER, "max_text_bytes", BP_KEY_INT64, HND(max_text_bytes), 268435456, NULL, 1,
     INT64_MAX, 0, DOC, 0, NULL, NULL, "most bytes of extracted text"},
    {BP_SCOPE_HANDLER, "max_zip_entries", BP_KEY_INT, HND(max_zip_entries), 10000, NULL, 1,
     INT_MAX, 0, DOC, 0, NULL, NULL, "most entries in a zip container (DOCX, ODT, EPUB, ...)"},
    {BP_SCOPE_HANDLER, "max_zip_ratio", BP_KEY_INT, HND(max_zip_ratio), 200, NULL, 1, INT_MAX,
     0, DOC, 0, NULL, NULL, "largest inflation ratio of a zip entry over 1 MiB (zip bombs)"},
    {BP_SCOPE_HANDLER, "max_zip_bytes", BP_KEY_INT64, HND(max_zip_bytes), 1073741824, NULL, 1,
     INT64_MAX, 0, DOC, 0, NULL, NULL, "most bytes inflated from one zip container"},
    {BP_SCOPE_HANDLER, "max_xml_depth", BP_KEY_INT, HND(max_xml_depth), 256, NULL, 1, 100000, 0,
     DOC, 0, NULL, NULL, "deepest XML element (or RTF group) nesting"},
    {BP_SCOPE_HANDLER, "progress_ms", BP_KEY_INT, HND(progress_ms), 500, NULL, 0, INT_MAX, 0,
     DOC, 0, NULL, NULL, "Bull progress of a parse at most this often (ms), 0 = never"},
    {BP_SCOPE_HANDLER, "sandbox", BP_KEY_GROUP, 0, 0, NULL, 0, 0, 0, DOC, BP_SCOPE_SANDBOX,
     NULL, NULL, "limits of the process that parses each document"},
    {BP_SCOPE_HANDLER, "argv", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, 0, EXEC, 0, NULL, parse_argv,
     "program and arguments, no shell; argv[0] absolute (required)"},
    {BP_SCOPE_HANDLER, "timeout_ms", BP_KEY_INT, HND(timeout_ms), 0, NULL, 0, INT_MAX, 0, EXEC,
     0, NULL, NULL, "kill the program after this, 0 = no limit of its own"},
    {BP_SCOPE_HANDLER, "env", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, 0, EXEC, 0, NULL, parse_env,
     "variables the program gets beyond PATH, HOME, LANG, LC_*, TZ, TMPDIR: \"NAME\" or \"NAME=value\""},
    {BP_SCOPE_HANDLER, "path", BP_KEY_STRING, HND(path), 0, NULL, 0, 0, NONE | PATH, PLUG, 0,
     NULL, NULL, "the plugin's shared library (required)"},
    {BP_SCOPE_HANDLER, "settings", BP_KEY_SPECIAL, 0, 0, NULL, 0, 0, 0, PLUG, 0, NULL,
     parse_settings, "the plugin's own key = value settings, passed as text"},

    /* handlers.sandbox = { ... } (document handlers) */
    {BP_SCOPE_SANDBOX, "memory_mb", BP_KEY_INT, HND(sandbox.memory_mb), 512, NULL, 16,
     BP_MAX_SBX_MB, 0, 0, 0, NULL, NULL, "memory the parser may allocate (RLIMIT_AS growth)"},
    {BP_SCOPE_SANDBOX, "cpu_s", BP_KEY_INT, HND(sandbox.cpu_s), 60, NULL, 1, BP_MAX_SBX_S, 0,
     0, 0, NULL, NULL, "CPU seconds per document (RLIMIT_CPU)"},
    {BP_SCOPE_SANDBOX, "wall_s", BP_KEY_INT, HND(sandbox.wall_s), 120, NULL, 1, BP_MAX_SBX_S,
     0, 0, 0, NULL, NULL, "wall-clock seconds per document"},
    {BP_SCOPE_SANDBOX, "output_mb", BP_KEY_INT, HND(sandbox.output_mb), 256, NULL, 1,
     BP_MAX_SBX_MB, 0, 0, 0, NULL, NULL, "most extracted output per document"},
    {BP_SCOPE_SANDBOX, "text_in_worker", BP_KEY_BOOL, HND(sandbox.text_in_worker), 0, NULL, 0,
     1, 0, 0, 0, NULL, NULL, "valid UTF-8 text and Markdown are extracted in the worker"},

    /* log */
    {BP_SCOPE_LOG, "level", BP_KEY_SPECIAL, CFG(log.level), BP_LOG_INFO, "info", 0, 0,
     BP_KEYF_INTDEF, 0, 0,
     NULL, parse_level, "debug, info, notice, warn, error, crit or alert"},
    {BP_SCOPE_LOG, "file", BP_KEY_STRING, CFG(log.file), 0, "", 0, 0, PATH, 0, 0, NULL, NULL,
     "log file (reopened on SIGUSR1), \"\" = stderr"},
    {BP_SCOPE_LOG, "syslog", BP_KEY_BOOL, CFG(log.syslog), 0, NULL, 0, 1, 0, 0, 0, NULL, NULL,
     "log to syslog instead"},
    {BP_SCOPE_LOG, "format", BP_KEY_ENUM, CFG(log.format), BP_LOG_TEXT, "text", 0, 0, 0, 0, 0,
     log_formats, NULL, "text or json lines"},

    /* metrics */
    {BP_SCOPE_METRICS, "listen", BP_KEY_STRING, CFG(metrics.listen), 0, "", 0, 0, 0, 0, 0, NULL,
     NULL, "HOST:PORT of /metrics and /healthz, \"\" = off"},
};
/* clang-format on */

const size_t bp_config_n_keys = sizeof(bp_config_keys) / sizeof(bp_config_keys[0]);

const char *bp_config_scope_name(bp_key_scope scope)
{
    static const char *const names[] = {"",
                                        "redis",
                                        "redis.tls",
                                        "pool",
                                        "queues",
                                        "handlers",
                                        "log",
                                        "metrics",
                                        "limiter",
                                        "queues.metrics",
                                        "handlers.sandbox",
                                        "redis.sentinel",
                                        "redis.cluster"};

    return names[scope];
}

const char *bp_config_enum_name(const bp_config_key *k, int value)
{
    for (const bp_key_enum *e = k->enums; e != NULL && e->name != NULL; e++)
        if (e->value == value)
            return e->name;
    return "?";
}

const bp_config_key *bp_config_key_find(bp_key_scope scope, const char *name)
{
    for (size_t i = 0; i < bp_config_n_keys; i++)
        if (bp_config_keys[i].scope == scope && strcmp(bp_config_keys[i].name, name) == 0)
            return &bp_config_keys[i];
    return NULL;
}

/* redis.url and redis.password: checked to be strings here, used by bp_load_finish(), which
 * also sees the environment. */
static int parse_url(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    const char *v;

    (void)base;
    if (bp_load_string(ld, s, k->name, &v) != 0)
        return -1;
    if (v[0] == '\0')
        return bp_load_fail(ld, s, k->name, "is empty; give a value or remove the key");
    return 0;
}

static int parse_level(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    const char *v;
    bp_log_level level;

    if (bp_load_string(ld, s, k->name, &v) != 0)
        return -1;
    if (bp_log_level_parse(v, &level) != 0)
        return bp_load_fail(ld, s, k->name,
                            "unknown level \"%s\"; use debug, info, notice, warn, error, crit "
                            "or alert",
                            v);
    *(bp_log_level *)bp_config_key_field(base, k) = level;
    return 0;
}

/* Push "<prefix>[i]" onto ld->key; returns the old length for pop_key(). */
static size_t push_key(bp_load *ld, const char *prefix, int index)
{
    size_t len = strlen(ld->key);

    snprintf(ld->key + len, sizeof(ld->key) - len, "%s[%d]", prefix, index);
    return len;
}

static void pop_key(bp_load *ld, size_t len)
{
    ld->key[len] = '\0';
}

static int check_list(bp_load *ld, const config_setting_t *s, const char *name, const char *example)
{
    if (!config_setting_is_list(s))
        return bp_load_fail(ld, s, name, "must be a list of groups in ( ); write %s = %s;", name,
                            example);
    if (config_setting_length(s) == 0)
        return bp_load_fail(ld, s, name, "is empty; add at least one group: %s = %s;", name,
                            example);
    return 0;
}

static int parse_queue(bp_load *ld, const config_setting_t *s, bp_queue_config *q)
{
    const config_setting_t *renew;

    if (!config_setting_is_group(s))
        return bp_load_fail(ld, s, NULL, "must be a group { name = \"...\"; handlers = ( ... ); }");
    q->line = (int)config_setting_source_line(s);
    if (bp_load_defaults(ld, BP_SCOPE_QUEUE, q) != 0 || bp_load_defaults(ld, BP_SCOPE_LIMITER, q) ||
        bp_load_defaults(ld, BP_SCOPE_QMETRICS, q) || bp_load_group(ld, s, BP_SCOPE_QUEUE, q) ||
        bp_load_required(ld, s, BP_SCOPE_QUEUE) != 0)
        return -1;
    renew = config_setting_get_member(s, "lock_renew_ms");
    if (renew == NULL) {
        q->lock_renew_ms = q->lock_duration_ms / 2 > 0 ? q->lock_duration_ms / 2 : 1;
    } else if (q->lock_renew_ms >= q->lock_duration_ms) {
        return bp_load_fail(ld, renew, "lock_renew_ms",
                            "%d is not below lock_duration_ms (%d); renew the lock well before "
                            "it expires, e.g. lock_duration_ms / 2",
                            q->lock_renew_ms, q->lock_duration_ms);
    }
    return 0;
}

static int parse_queues(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    bp_config *cfg = base;
    int n;

    if (check_list(ld, s, k->name, "( { name = \"jobs\"; handlers = ( ... ); } )") != 0)
        return -1;
    n = config_setting_length(s);
    cfg->queues = bp_arena_alloc(ld->arena, sizeof(bp_queue_config) * (size_t)n);
    if (cfg->queues == NULL)
        return bp_load_fail(ld, s, k->name, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *qs = config_setting_get_elem(s, (unsigned)i);
        size_t len = push_key(ld, "queues", i);
        bp_queue_config *q = &cfg->queues[i];

        if (parse_queue(ld, qs, q) != 0)
            return -1;
        for (int j = 0; j < i; j++) {
            if (strcmp(cfg->queues[j].name, q->name) == 0)
                return bp_load_fail(ld, config_setting_get_member(qs, "name"), "name",
                                    "queue \"%s\" is already defined at line %d; give each "
                                    "queue a unique name (or merge the two groups)",
                                    q->name, cfg->queues[j].line);
        }
        pop_key(ld, len);
        cfg->n_queues = (size_t)i + 1;
    }
    return 0;
}

/* A queue's sub-group (limiter, metrics): defaults, members, required keys. */
static int parse_subgroup(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                          bp_key_scope scope, void *base, const char *example)
{
    size_t len = strlen(ld->key);
    int rc;

    if (!config_setting_is_group(s))
        return bp_load_fail(ld, s, k->name, "must be a group; write %s = %s;", k->name, example);
    snprintf(ld->key + len, sizeof(ld->key) - len, ".%s", k->name);
    rc = bp_load_group(ld, s, scope, base);
    if (rc == 0)
        rc = bp_load_required(ld, s, scope);
    ld->key[len] = '\0';
    return rc;
}

static int parse_limiter(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    bp_queue_config *q = base;

    if (parse_subgroup(ld, k, s, BP_SCOPE_LIMITER, q,
                       "{ max = 10; duration_ms = 1000; bounce_back = false; }") != 0)
        return -1;
    q->limiter.line = (int)config_setting_source_line(s);
    if (q->limiter.bounce_back)
        return bp_load_fail(ld, config_setting_get_member(s, "bounce_back"), "limiter.bounce_back",
                            "true is refused: Bull's bounceBack takes a limited job out of "
                            "active and puts it nowhere else, so the job is lost; use "
                            "bounce_back = false (limited jobs wait in delayed, as Bull does)");
    return 0;
}

static int parse_qmetrics(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                          void *base)
{
    return parse_subgroup(ld, k, s, BP_SCOPE_QMETRICS, base, "{ max_data_points = 60; }");
}

static int parse_handler(bp_load *ld, const config_setting_t *s, bp_handler_config *h)
{
    const config_setting_t *type = config_setting_get_member(s, "type");

    if (!config_setting_is_group(s))
        return bp_load_fail(ld, s, NULL, "must be a group { job = \"...\"; type = \"...\"; }");
    h->line = (int)config_setting_source_line(s);
    if (bp_load_defaults(ld, BP_SCOPE_HANDLER, h) != 0 ||
        bp_load_defaults(ld, BP_SCOPE_SANDBOX, h) != 0 || bp_load_required(ld, s, BP_SCOPE_HANDLER))
        return -1;
    /* the type first: it decides which other keys are allowed */
    if (bp_load_value(ld, bp_config_key_find(BP_SCOPE_HANDLER, "type"), type, h) != 0 ||
        bp_load_group(ld, s, BP_SCOPE_HANDLER, h) != 0)
        return -1;
    if (h->type == BP_HANDLER_EXEC && h->argv == NULL)
        return bp_load_fail(ld, s, "argv",
                            "missing; an exec handler needs argv = [\"/path/to/program\", "
                            "\"arg\", ...];");
    if (h->type == BP_HANDLER_PLUGIN && h->path == NULL)
        return bp_load_fail(ld, s, "path",
                            "missing; a plugin handler needs path = \"/path/to/plugin.so\";");
    if (h->type == BP_HANDLER_DOCUMENT && h->overlap_words >= h->chunk_words) {
        const config_setting_t *o = config_setting_get_member(s, "overlap_words");
        return bp_load_fail(ld, o != NULL ? o : config_setting_get_member(s, "chunk_words"),
                            "overlap_words",
                            "%d is not below chunk_words (%d); make the overlap smaller than a "
                            "chunk, e.g. a fifth of it",
                            h->overlap_words, h->chunk_words);
    }
    return 0;
}

static int parse_handlers(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                          void *base)
{
    bp_queue_config *q = base;
    int n;

    if (check_list(ld, s, k->name, "( { job = \"*\"; type = \"echo\"; } )") != 0)
        return -1;
    n = config_setting_length(s);
    q->handlers = bp_arena_alloc(ld->arena, sizeof(bp_handler_config) * (size_t)n);
    if (q->handlers == NULL)
        return bp_load_fail(ld, s, k->name, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *hs = config_setting_get_elem(s, (unsigned)i);
        size_t len = push_key(ld, ".handlers", i);
        bp_handler_config *h = &q->handlers[i];

        if (parse_handler(ld, hs, h) != 0)
            return -1;
        for (int j = 0; j < i; j++) {
            if (strcmp(q->handlers[j].job, h->job) == 0)
                return bp_load_fail(ld, config_setting_get_member(hs, "job"), "job",
                                    "a handler for job \"%s\" is already defined at line %d; "
                                    "keep one of them",
                                    h->job, q->handlers[j].line);
        }
        pop_key(ld, len);
        q->n_handlers = (size_t)i + 1;
    }
    return 0;
}

static int parse_argv(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    bp_handler_config *h = base;
    int n = config_setting_length(s);

    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return bp_load_fail(ld, s, k->name,
                            "must be an array of strings; write argv = [\"/path/to/program\", "
                            "\"arg\"];");
    if (n == 0)
        return bp_load_fail(ld, s, k->name,
                            "is empty; give at least the program: argv = [\"/path/to/program\"];");
    h->argv = bp_arena_alloc(ld->arena, sizeof(char *) * ((size_t)n + 1));
    if (h->argv == NULL)
        return bp_load_fail(ld, s, k->name, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char name[32];

        snprintf(name, sizeof(name), "argv[%d]", i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return bp_load_fail(ld, e, name, "must be a string; quote every argument, numbers too");
        h->argv[i] = bp_arena_strdup(ld->arena, config_setting_get_string(e));
        if (h->argv[i] == NULL)
            return bp_load_fail(ld, e, name, "out of memory");
    }
    h->argc = n;
    if (h->argv[0][0] != '/')
        return bp_load_fail(ld, config_setting_get_elem(s, 0), "argv[0]",
                            "\"%s\" is not an absolute path; give the program's full path (no "
                            "shell and no PATH search is used)",
                            h->argv[0]);
    if (access(h->argv[0], X_OK) != 0) {
        int e = errno;
        return bp_load_fail(ld, config_setting_get_elem(s, 0), "argv[0]",
                            "cannot execute \"%s\": %s; install it or fix the path", h->argv[0],
                            strerror(e));
    }
    return 0;
}

static int parse_settings(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                          void *base)
{
    bp_handler_config *h = base;
    int n = config_setting_length(s);

    if (!config_setting_is_group(s))
        return bp_load_fail(ld, s, k->name,
                            "must be a group; write settings = { key = \"value\"; };");
    h->settings = bp_arena_alloc(ld->arena, sizeof(bp_kv) * ((size_t)n + 1));
    if (h->settings == NULL)
        return bp_load_fail(ld, s, k->name, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char name[160], text[64];
        const char *value = text;

        snprintf(name, sizeof(name), "settings.%s", config_setting_name(e));
        switch (config_setting_type(e)) {
        case CONFIG_TYPE_STRING:
            value = config_setting_get_string(e);
            break;
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
            snprintf(text, sizeof(text), "%lld", config_setting_get_int64(e));
            break;
        case CONFIG_TYPE_FLOAT:
            snprintf(text, sizeof(text), "%.17g", config_setting_get_float(e));
            break;
        case CONFIG_TYPE_BOOL:
            snprintf(text, sizeof(text), "%s", config_setting_get_bool(e) ? "true" : "false");
            break;
        default:
            return bp_load_fail(ld, e, name,
                                "must be a string, number or boolean; plugins get scalar "
                                "settings only (encode structure in a string)");
        }
        h->settings[i].key = bp_arena_strdup(ld->arena, config_setting_name(e));
        h->settings[i].value = bp_arena_strdup(ld->arena, value);
        if (h->settings[i].key == NULL || h->settings[i].value == NULL)
            return bp_load_fail(ld, e, name, "out of memory");
    }
    h->n_settings = (size_t)n;
    return 0;
}

/* An array of strings (libconfig [ ] or ( )) into *out, *n, each copied to the arena. The
 * element names in messages read "<name>[i]". */
static int string_array(bp_load *ld, const bp_config_key *k, const config_setting_t *s,
                        const char *example, char ***out, size_t *n_out)
{
    int n = config_setting_length(s);
    char **v;

    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return bp_load_fail(ld, s, k->name, "must be an array of strings; write %s = %s;", k->name,
                            example);
    if (n == 0)
        return bp_load_fail(ld, s, k->name, "is empty; write %s = %s; or remove the key", k->name,
                            example);
    v = bp_arena_alloc(ld->arena, sizeof(char *) * ((size_t)n + 1));
    if (v == NULL)
        return bp_load_fail(ld, s, k->name, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char name[64];

        snprintf(name, sizeof(name), "%s[%d]", k->name, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return bp_load_fail(ld, e, name, "must be a string; write %s = %s;", k->name, example);
        v[i] = bp_arena_strdup(ld->arena, config_setting_get_string(e));
        if (v[i] == NULL)
            return bp_load_fail(ld, e, name, "out of memory");
    }
    *out = v;
    *n_out = (size_t)n;
    return 0;
}

/* allowed_dirs: absolute directories that exist, no "." or ".." component, no repeats. A
 * trailing '/' is dropped. The worker opens them as roots (common/bp_confine.h). */
static int parse_dirs(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    bp_handler_config *h = base;
    static const char example[] = "[ \"/srv/uploads\" ]";

    if (string_array(ld, k, s, example, &h->allowed_dirs, &h->n_allowed_dirs) != 0)
        return -1;
    for (size_t i = 0; i < h->n_allowed_dirs; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char *d = h->allowed_dirs[i], name[64];
        size_t len = strlen(d);
        struct stat st;

        snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
        if (d[0] != '/')
            return bp_load_fail(ld, e, name,
                                "\"%s\" is not an absolute path; give the directory's full path, "
                                "e.g. \"/srv/uploads\"",
                                d);
        if (len >= PATH_MAX)
            return bp_load_fail(ld, e, name, "is longer than PATH_MAX (%d bytes)", PATH_MAX);
        while (len > 1 && d[len - 1] == '/')
            d[--len] = '\0';
        for (const char *p = d; *p != '\0';) {
            size_t n;
            p += strspn(p, "/");
            n = strcspn(p, "/");
            if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                return bp_load_fail(ld, e, name,
                                    "\"%s\" has a \".\" or \"..\" component; write the directory "
                                    "plainly, e.g. \"/srv/uploads\"",
                                    d);
            p += n;
        }
        if (stat(d, &st) != 0) {
            int err = errno;
            return bp_load_fail(ld, e, name,
                                "cannot use \"%s\": %s; create the directory or fix "
                                "the path",
                                d, strerror(err));
        }
        if (!S_ISDIR(st.st_mode))
            return bp_load_fail(ld, e, name, "\"%s\" is not a directory; list directories only", d);
        for (size_t j = 0; j < i; j++)
            if (strcmp(h->allowed_dirs[j], d) == 0)
                return bp_load_fail(ld, e, name, "\"%s\" is listed twice; keep one", d);
    }
    return 0;
}

/* env: "NAME" passes NAME from bullpen's environment (when set), "NAME=value" sets it. */
static int parse_env(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    bp_handler_config *h = base;
    static const char example[] = "[ \"MY_API_URL\", \"MODE=batch\" ]";

    if (string_array(ld, k, s, example, &h->env, &h->n_env) != 0)
        return -1;
    for (size_t i = 0; i < h->n_env; i++) {
        const char *v = h->env[i];
        size_t n = strcspn(v, "=");
        char name[64];

        snprintf(name, sizeof(name), "%s[%zu]", k->name, i);
        if (n == 0 ||
            strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != n ||
            (v[0] >= '0' && v[0] <= '9'))
            return bp_load_fail(ld, config_setting_get_elem(s, (unsigned)i), name,
                                "\"%s\" does not start with a variable name (letters, digits, "
                                "_); write \"NAME\" or \"NAME=value\"",
                                v);
    }
    return 0;
}

/* redis.sentinel.nodes and redis.cluster.nodes: "host:port" or "[v6]:port" strings. */
static int parse_nodes(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    bp_config *cfg = base;
    bool sentinel = k->scope == BP_SCOPE_SENTINEL;
    int n = config_setting_length(s);
    bp_redis_node *nodes;

    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return bp_load_fail(ld, s, k->name,
                            "must be an array of strings; write nodes = "
                            "[ \"10.0.0.1:%d\", \"10.0.0.2:%d\" ];",
                            sentinel ? 26379 : 6379, sentinel ? 26379 : 6379);
    if (n == 0)
        return bp_load_fail(ld, s, k->name, "is empty; give at least one \"host:port\"");
    nodes = bp_arena_alloc(ld->arena, sizeof(*nodes) * (size_t)n);
    if (nodes == NULL)
        return bp_load_fail(ld, s, k->name, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v, *colon, *hs, *he;
        char name[32], *end;
        long port;

        snprintf(name, sizeof(name), "nodes[%d]", i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return bp_load_fail(ld, e, name, "must be a string \"host:port\"");
        v = config_setting_get_string(e);
        colon = strrchr(v, ':');
        hs = v;
        he = colon;
        if (v[0] == '[') { /* [IPv6]:port */
            hs = v + 1;
            he = strchr(v, ']');
            if (he == NULL || he[1] != ':')
                he = NULL;
        }
        errno = 0;
        port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
        if (colon == NULL || he == NULL || he == hs || errno != 0 || end == colon + 1 ||
            *end != '\0' || port < 1 || port > 65535)
            return bp_load_fail(ld, e, name,
                                "\"%s\" is not \"host:port\"; write e.g. \"10.0.0.1:%d\" or "
                                "\"[fd00::1]:%d\"",
                                v, sentinel ? 26379 : 6379, sentinel ? 26379 : 6379);
        nodes[i].host = bp_arena_alloc(ld->arena, (size_t)(he - hs) + 1);
        if (nodes[i].host == NULL)
            return bp_load_fail(ld, e, name, "out of memory");
        memcpy(nodes[i].host, hs, (size_t)(he - hs));
        nodes[i].port = (int)port;
    }
    if (sentinel) {
        cfg->redis.sentinel.nodes = nodes;
        cfg->redis.sentinel.n_nodes = (size_t)n;
    } else {
        cfg->redis.cluster.nodes = nodes;
        cfg->redis.cluster.n_nodes = (size_t)n;
    }
    return 0;
}
