/* bp_config.h -- the configuration: one immutable struct parsed once by the master.
 *
 * bp_config_load() reads a libconfig file, applies the defaults (one table in
 * bp_config.c), checks every key's type and range, rejects unknown keys, reads the secrets
 * (password_file, control_key_file) and applies the environment overrides
 * (BULLPEN_REDIS_URL, BULLPEN_REDIS_PASSWORD). A loaded config is never modified; a reload
 * loads a new one. All memory of one config is freed by bp_config_free(). No libconfig
 * type leaves config/. */
#ifndef BP_CONFIG_H
#define BP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bp_err.h"
#include "bp_log.h"

typedef enum bp_transport {
    BP_TRANSPORT_TCP,  /* redis:// */
    BP_TRANSPORT_TLS,  /* rediss:// */
    BP_TRANSPORT_UNIX, /* unix:///path/to/socket */
} bp_transport;

typedef struct bp_tls_config {
    char *ca_file;     /* NULL = system default store */
    char *ca_dir;      /* NULL = none */
    char *cert_file;   /* client certificate for mutual TLS, NULL = none */
    char *key_file;    /* its key, NULL = none */
    char *server_name; /* SNI and verified name; NULL = the URL's host */
    bool verify;       /* verify the peer certificate and name (default true) */
    int min_version;   /* TLS1_2_VERSION or TLS1_3_VERSION (OpenSSL constants) */
} bp_tls_config;

/* One "host:port" of redis.sentinel.nodes or redis.cluster.nodes. */
typedef struct bp_redis_node {
    char *host; /* host name or IP literal (no brackets) */
    int port;   /* 1..65535 */
} bp_redis_node;

/* redis.sentinel: where the master is comes from these sentinels (master_name != NULL). */
typedef struct bp_sentinel_config {
    char *master_name;    /* the name the sentinels monitor; NULL = no Sentinel */
    bp_redis_node *nodes; /* the sentinels, in file order */
    size_t n_nodes;       /* entries in nodes (>= 1 when master_name is set) */
    char *password_file;  /* the sentinels' own AUTH password file; NULL = no AUTH */
    char *password;       /* secret read from password_file; NULL = none */
} bp_sentinel_config;

/* redis.cluster: seed nodes of a Redis Cluster (n_nodes > 0 = cluster mode). */
typedef struct bp_cluster_config {
    bp_redis_node *nodes; /* seeds, in file order: the slot map is learnt from them */
    size_t n_nodes;       /* entries in nodes, 0 = not a cluster */
} bp_cluster_config;

typedef struct bp_redis_config {
    bp_transport transport;      /* from the URL scheme */
    char *host;                  /* host name or IP literal (no brackets); NULL for unix */
    int port;                    /* default 6379 */
    char *unix_path;             /* socket path for unix://, else NULL */
    char *username;              /* ACL user, NULL = none (AUTH with password only) */
    char *password;              /* secret: never logged; NULL = no AUTH */
    char *password_file;         /* file the password was read from; NULL = inline, URL or env */
    int db;                      /* SELECT index, default 0 */
    char *url_redacted;          /* the URL with any password shown as ***, for logs */
    char *url_env;               /* name of the environment variable holding the URL, NULL = url */
    const char *url_from;        /* the variable the URL came from (BULLPEN_REDIS_URL or url_env's),
                                    NULL when it came from the file or the default */
    bp_tls_config tls;           /* used when transport == BP_TRANSPORT_TLS */
    int connect_timeout_ms;      /* default 2000 */
    int command_timeout_ms;      /* default 5000 */
    int keepalive_s;             /* TCP keepalive idle seconds, default 30; 0 = off */
    bp_sentinel_config sentinel; /* Sentinel mode when sentinel.master_name != NULL */
    bp_cluster_config cluster;   /* Cluster mode when cluster.n_nodes > 0 */
    int replica_acks;            /* WAIT for this many replicas after writes that count, 0 = off */
    int replica_ack_timeout_ms;  /* longest WAIT, default 1000 */
} bp_redis_config;

typedef enum bp_handler_type {
    BP_HANDLER_DOCUMENT,
    BP_HANDLER_EXEC,
    BP_HANDLER_PLUGIN,
    BP_HANDLER_ECHO,
    BP_HANDLER_SLEEP,
    BP_HANDLER_FAIL,
} bp_handler_type;

enum bp_chunk_format {
    BP_CHUNK_FORMAT_TEXT, /* each chunk stored as its text */
    BP_CHUNK_FORMAT_JSON, /* each chunk a JSON object: text, offset, pages, heading path */
};

typedef struct bp_kv {
    char *key;
    char *value; /* scalars are given to plugins as their text */
} bp_kv;

/* Limits of the extraction sandbox of one document handler (worker/sandbox/). */
typedef struct bp_sandbox_config {
    int memory_mb;       /* address space the parser may add (RLIMIT_AS), default 512 */
    int cpu_s;           /* CPU seconds per document (RLIMIT_CPU), default 60 */
    int wall_s;          /* wall-clock seconds per document, default 120 */
    int output_mb;       /* most extracted output per document, default 256 */
    bool text_in_worker; /* valid UTF-8 text and Markdown extracted in the worker (own
                          * scanners, no third-party parser), default false */
} bp_sandbox_config;

typedef struct bp_handler_config {
    char *job;            /* exact job name or "*" */
    bp_handler_type type; /* what runs it */
    int line;             /* line in the config file, for messages */
    /* document */
    int chunk_words;        /* default 200 */
    int overlap_words;      /* default 40; must be < chunk_words */
    int cache_ttl_s;        /* default 86400 */
    int64_t max_bytes;      /* default 67108864 */
    char **allowed_dirs;    /* absolute directories path jobs may read; NULL = path jobs refused */
    size_t n_allowed_dirs;  /* entries in allowed_dirs */
    int chunk_format;       /* BP_CHUNK_FORMAT_TEXT (default) or _JSON: how chunks are stored */
    int max_pages;          /* pages/slides/sheets/chapters refused beyond, default 20000 */
    int64_t max_text_bytes; /* extracted text refused beyond, default 268435456 */
    int max_zip_entries;    /* zip container entries refused beyond, default 10000 */
    int max_zip_ratio;      /* zip entry inflation ratio refused beyond, default 200 */
    int64_t max_zip_bytes;  /* bytes inflated from one container, default 1073741824 */
    int max_xml_depth;      /* XML (and RTF group) nesting refused beyond, default 256 */
    int progress_ms;        /* Bull progress at most this often, 0 = never; default 500 */
    bp_sandbox_config sandbox; /* limits of the parse (worker/sandbox/) */
    /* exec */
    char **argv;    /* NULL-terminated; argv[0] is an absolute path */
    int argc;       /* entries in argv */
    int timeout_ms; /* exec: kill the child after this, default 0 = none */
    char **env;     /* exec: "NAME" (passed from bullpen's environment) or "NAME=value" */
    size_t n_env;   /* entries in env; the program gets these plus BP_EXEC_ENV_BASE */
    /* plugin */
    char *path;        /* shared library path */
    bp_kv *settings;   /* plugin's own settings group, key/value text */
    size_t n_settings; /* entries in settings */
} bp_handler_config;

/* Bull's worker-side rate limiter (bull-protocol.md §7.12), applied in take.lua. */
typedef struct bp_limiter_config {
    int max;          /* jobs started per window; 0 = no limiter (the group is absent) */
    int duration_ms;  /* the window (Bull limiter.duration) */
    bool bounce_back; /* Bull limiter.bounceBack; only false is accepted (true loses jobs) */
    char *group_key;  /* Bull limiter.groupKey: data field the producer appends to the job
                         id; NULL = one limiter for the whole queue */
    int line;         /* line of the limiter group, 0 when absent */
} bp_limiter_config;

typedef struct bp_queue_config {
    char *name;                  /* Bull queue name */
    char *prefix;                /* key prefix, default "bull" */
    int workers;                 /* processes for this queue, default 1 */
    int lock_duration_ms;        /* default 30000 */
    int lock_renew_ms;           /* default lock_duration_ms / 2 */
    int stalled_interval_ms;     /* default 30000 */
    int max_stalled;             /* default 1 */
    int job_timeout_ms;          /* default 0 = only opts.timeout */
    int block_timeout_s;         /* BRPOPLPUSH timeout (Bull's drainDelay), default 30 */
    int lease_max;               /* jobs a worker leases per round trip, 1 = one at a time */
    bp_limiter_config limiter;   /* limiter = { ... }; max 0 = none */
    int metrics_max_points;      /* metrics = { max_data_points = N; }; 0 = no Bull metrics */
    int log_max_lines;           /* job log lines kept per job (LTRIM, like keepLogs) */
    int log_max_line_bytes;      /* longer job log lines are cut to this many bytes */
    bp_handler_config *handlers; /* in file order */
    size_t n_handlers;           /* entries in handlers */
    int line;                    /* line of the queue's group */
} bp_queue_config;

typedef struct bp_pool_config {
    char *user;                 /* drop privileges to this user, NULL = stay */
    char *group;                /* and this group, NULL = the user's */
    char *pidfile;              /* NULL = none */
    int heartbeat_ms;           /* default 1000 */
    int hung_after_ms;          /* default 10000 */
    int probe_ms;               /* the pub/sub proof of each worker's connections, 60000 */
    int shutdown_timeout_ms;    /* default 30000 */
    int max_jobs_per_worker;    /* recycle after this many jobs, 0 = never */
    int max_rss_mb;             /* recycle above this RSS, 0 = never */
    char *control_key_file;     /* NULL = bullpen ctl refused */
    unsigned char *control_key; /* secret: the key bytes read from control_key_file */
    size_t control_key_len;     /* bytes in control_key */
    char *control_channel;      /* default "bullpen:control" */
} bp_pool_config;

typedef struct bp_log_config {
    bp_log_level level;   /* default info */
    char *file;           /* NULL = stderr */
    bool syslog;          /* default false */
    bp_log_format format; /* default text */
} bp_log_config;

typedef struct bp_metrics_config {
    char *listen; /* "127.0.0.1:9187", NULL = no metrics endpoint */
} bp_metrics_config;

typedef struct bp_config {
    char *path; /* the file it was read from (absolute) */
    bp_redis_config redis;
    bp_pool_config pool;
    bp_queue_config *queues; /* at least one */
    size_t n_queues;         /* entries in queues */
    bp_log_config log;
    bp_metrics_config metrics;
    void *arena; /* private: owns every string and array above */
} bp_config;

/* Load and validate path. On success stores a new config in *out (free with
 * bp_config_free()) and returns 0. On failure returns -1 and err->msg reads
 * "FILE:LINE: key: what is wrong; what to do" (err->kind BP_ERR_CONFIG). */
int bp_config_load(bp_config **out, const char *path, bp_err *err);
void bp_config_free(bp_config *cfg); /* NULL is a no-op */

/* Parse a Redis URL (redis://, rediss://, unix://) into rc's transport, host, port,
 * unix_path, username, password and db, allocating strings with malloc. Used by
 * bp_config_load() and the unit tests. Returns 0, or -1 with err set. */
int bp_url_parse(const char *url, bp_redis_config *rc, bp_err *err);
void bp_url_free(bp_redis_config *rc); /* frees what bp_url_parse() allocated */

/* Write the effective configuration in libconfig syntax, secrets shown as "***". */
void bp_config_print(const bp_config *cfg, FILE *out);

/* Find a queue by name (NULL name = the first queue). */
const bp_queue_config *bp_config_queue(const bp_config *cfg, const char *name);

/* The handler for a job name: an exact match wins over "*". NULL when none matches. */
const bp_handler_config *bp_config_route(const bp_queue_config *q, const char *job_name);

const char *bp_handler_type_name(bp_handler_type t);

/* Total worker processes over all queues. */
int bp_config_total_workers(const bp_config *cfg);

#endif /* BP_CONFIG_H */
