/* bp_ctl_msg.h -- the signed control message of `bullpen ctl`, the masters' replies, and the
 * channel names both sides use.
 *
 * Channels:
 *   <control_channel>                 commands, JSON below; ONLY masters subscribe it, because
 *                                     the client counts PUBLISH's receivers as the number of
 *                                     masters that will answer (pool.control_channel, default
 *                                     "bullpen:control"). Master->worker traffic (pings,
 *                                     pause...) must use another channel, e.g.
 *                                     BP_CTL_WORKER_CHANNEL_FMT.
 *   <control_channel>:reply:<nonce>   replies, one per master, named in the command's "reply"
 *
 * Command (one line of JSON, fields in this order):
 *   {"v":1,"cmd":"status|pause|resume|scale|reload|shutdown|cancel","arg":"...",
 *    "host":"<target host name, empty = every master>","ts":<ms since epoch>,
 *    "nonce":"<32 lower-case hex>","reply":"<reply channel>","mac":"<64 hex>"}
 * "mac" is HMAC-SHA256 with the pool.control_key_file bytes as key over the canonical text
 *   "v1" then, for each of cmd, arg, host, ts (decimal), nonce, reply in that order,
 *   "|" <decimal byte length> ":" <value>
 * e.g. "v1|6:status|0:|0:|13:1732560000000|32:0123...|54:bullpen:control:reply:0123...".
 * The lengths make the text unambiguous whatever bytes arg or host contain.
 *
 * Arguments: scale takes "N" or "QUEUE=N" (N workers, 0..BP_CTL_SCALE_MAX; without a queue
 * the master applies N to its only or first queue); cancel takes a non-empty job id as Bull
 * has it (the master looks for it among its workers' current jobs); the others take ""
 * (anything else is malformed).
 *
 * Reply (published by each master on the reply channel):
 *   {"host":"web-1","pid":812,"ok":true,"message":"paused 4 workers",
 *    "workers":[{"index":0,"pid":813,"queue":"document-processing","state":"busy",
 *                "job":"42","jobs_done":17,"rss_kb":10240,"since_ms":1732560000000}]}
 * "workers" is present for status (may be empty) and absent otherwise. A master that verified
 * the command but has nothing to do with it -- not the --host named, or for cancel not
 * running that job -- answers with "skipped":true (and "ok":true) so the client can count
 * every listening master without waiting out BP_CTL_REPLY_WAIT_MS:
 *   {"host":"web-2","pid":900,"ok":true,"skipped":true,"message":"not addressed to web-2"}
 * A master ignores (and logs) a command that fails verification and sends nothing. */
#ifndef BP_CTL_MSG_H
#define BP_CTL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bp_err.h"

#define BP_CTL_VERSION         1                 /* "v" of the messages we write and accept */
#define BP_CTL_DEFAULT_CHANNEL "bullpen:control" /* pool.control_channel default */
#define BP_CTL_REPLY_FMT       "%s:reply:%s"     /* control_channel, nonce */
#define BP_CTL_WORKER_CHANNEL_FMT \
    "%s:workers"                   /* control_channel: suggested master->worker channel */
#define BP_CTL_MAX_SKEW_MS   30000 /* |now - ts| above this is stale: clocks must be in NTP sync */
#define BP_CTL_REPLY_WAIT_MS 3000  /* how long bullpen ctl waits for every master */
#define BP_CTL_NONCE_HEX     32    /* 128 random bits, hex */
#define BP_CTL_NONCE_CACHE   256   /* accepted nonces remembered; > ctl messages per minute */
#define BP_CTL_SCALE_MAX     1024  /* upper bound of scale N */
#define BP_CTL_ARG_MAX       256   /* bytes of arg, NUL included */
#define BP_CTL_HOST_MAX      256   /* bytes of host, NUL included (HOST_NAME_MAX + 1) */
#define BP_CTL_CHANNEL_MAX   512   /* bytes of the reply channel, NUL included */

typedef enum bp_ctl_cmd {
    BP_CTL_STATUS,
    BP_CTL_PAUSE,
    BP_CTL_RESUME,
    BP_CTL_SCALE,
    BP_CTL_RELOAD,
    BP_CTL_SHUTDOWN,
    BP_CTL_CANCEL,
} bp_ctl_cmd;

/* "status", "pause", ...; and back. parse returns 0, or -1 when name is no command. */
const char *bp_ctl_cmd_name(bp_ctl_cmd cmd);
int bp_ctl_cmd_parse(const char *name, bp_ctl_cmd *out);

/* One command, decoded (all strings NUL-terminated, fixed buffers: no ownership). */
typedef struct bp_ctl_msg {
    bp_ctl_cmd cmd;                   /* what to do */
    char arg[BP_CTL_ARG_MAX];         /* scale: "N" or "QUEUE=N"; cancel: job id; else "" */
    char host[BP_CTL_HOST_MAX];       /* target host name; "" = every master */
    int64_t ts;                       /* sender's wall clock, ms since the epoch */
    char nonce[BP_CTL_NONCE_HEX + 1]; /* 32 lower-case hex digits, unique per message */
    char reply[BP_CTL_CHANNEL_MAX];   /* channel the masters answer on */
} bp_ctl_msg;

/* Fill m for a new command: random nonce (OpenSSL RAND_bytes), ts = now_ms, reply channel
 * "<control_channel>:reply:<nonce>". host NULL or "" = every master; arg NULL = "". Checks
 * that arg suits cmd (see above). Returns 0, or -1 with err set ("scale needs a number of
 * workers, e.g. 'scale 8' or 'scale document-processing=8'"). */
int bp_ctl_msg_init(bp_ctl_msg *m, bp_ctl_cmd cmd, const char *arg, const char *host,
                    const char *control_channel, int64_t now_ms, bp_err *err);

/* The signed JSON text of m (malloc'd, caller frees), or NULL with err set (empty key,
 * out of memory). */
char *bp_ctl_msg_sign(const unsigned char *key, size_t keylen, const bp_ctl_msg *m, bp_err *err);

/* Why a message was refused: bp_ctl_msg_verify() returns one of these (0 = accepted). */
typedef enum bp_ctl_verdict {
    BP_CTL_ACCEPTED = 0,
    BP_CTL_MALFORMED = -1,           /* not JSON, a field missing or of the wrong type, bad arg */
    BP_CTL_UNSIGNED = -2,            /* no "mac" */
    BP_CTL_BAD_MAC = -3,             /* wrong key or altered message */
    BP_CTL_STALE = -4,               /* |now - ts| > BP_CTL_MAX_SKEW_MS */
    BP_CTL_REPLAYED = -5,            /* nonce already accepted within the window */
    BP_CTL_FLOODED = -6,             /* more than BP_CTL_NONCE_CACHE accepted within the window */
    BP_CTL_VERSION_UNSUPPORTED = -7, /* "v" other than 1 */
} bp_ctl_verdict;

/* Accepted nonces with their ts, a fixed ring; zero it (= {0}) or call _init before use.
 * One per master process. */
typedef struct bp_ctl_nonce_cache {
    struct {
        char nonce[BP_CTL_NONCE_HEX + 1]; /* "" = free slot */
        int64_t ts;                       /* the message's ts */
    } slot[BP_CTL_NONCE_CACHE];
    size_t next; /* slot written next: the oldest */
} bp_ctl_nonce_cache;

void bp_ctl_nonce_cache_init(bp_ctl_nonce_cache *cache);

/* Check a received command: JSON shape, then the MAC (constant-time compare), then the
 * timestamp against now_ms, then the nonce against cache (checked only for authentic,
 * fresh messages, so forgeries cannot fill it); an accepted nonce is added to cache. On
 * acceptance fills *out and returns BP_CTL_ACCEPTED (0). Otherwise returns the verdict
 * (< 0), leaves *out untouched, and err->msg is the whole line to log, e.g.
 * "ignored ctl message: bad signature; check pool.control_key_file matches on both sides"
 * (kind BP_ERR_PROTOCOL). The caller then checks bp_ctl_msg_for_host(). */
bp_ctl_verdict bp_ctl_msg_verify(const unsigned char *key, size_t keylen, const char *text,
                                 int64_t now_ms, bp_ctl_nonce_cache *cache, bp_ctl_msg *out,
                                 bp_err *err);

/* True when m addresses this host: m->host empty, or equal to hostname. */
bool bp_ctl_msg_for_host(const bp_ctl_msg *m, const char *hostname);

/* Parse a scale arg, "N" or "QUEUE=N". Stores the queue name ("" when absent) and N.
 * Returns 0, or -1 with err set. */
int bp_ctl_scale_parse(const char *arg, char *queue, size_t queue_cap, int *n, bp_err *err);

/* One worker row of a status reply. */
typedef struct bp_ctl_worker {
    int index;           /* slot number in the master */
    pid_t pid;           /* worker process */
    char queue[128];     /* queue name */
    char state[16];      /* idle|busy|paused|draining|starting */
    char job[128];       /* current job id, "" when none */
    long long jobs_done; /* jobs finished by this process */
    long long rss_kb;    /* resident set size */
    int64_t since_ms;    /* wall ms the state (or the job) began */
} bp_ctl_worker;

/* A master's reply. Build one with bp_ctl_reply_new, add workers, format, free. */
typedef struct bp_ctl_reply {
    char host[BP_CTL_HOST_MAX]; /* the master's host name */
    pid_t pid;                  /* the master's pid */
    bool ok;                    /* command done */
    bool skipped;               /* not addressed to this master (host, cancel elsewhere) */
    char message[512];          /* what was done, or why not */
    bool has_workers;           /* "workers" present (status) */
    bp_ctl_worker *workers;     /* malloc'd array, n_workers entries (owned) */
    size_t n_workers;           /* entries in workers */
} bp_ctl_reply;

/* A zeroed reply with host, pid, ok and message (printf-style) set. NULL on out of memory. */
bp_ctl_reply *bp_ctl_reply_new(const char *host, pid_t pid, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A skipped reply: ok, skipped, message "not addressed to <host>" (or why when not NULL).
 * NULL on out of memory. */
bp_ctl_reply *bp_ctl_reply_skipped(const char *host, pid_t pid, const char *why);

/* Append a copy of w to r->workers (sets has_workers). Returns 0, or -1 on out of memory. */
int bp_ctl_reply_add_worker(bp_ctl_reply *r, const bp_ctl_worker *w);

/* The reply as one line of JSON (malloc'd, caller frees), NULL on out of memory. */
char *bp_ctl_reply_format(const bp_ctl_reply *r);

/* Parse a reply's JSON. Returns a new reply (free with bp_ctl_reply_free), or NULL with err
 * set. Unknown fields are ignored; too-long strings are cut. */
bp_ctl_reply *bp_ctl_reply_parse(const char *text, bp_err *err);

void bp_ctl_reply_free(bp_ctl_reply *r); /* NULL is a no-op */

#endif /* BP_CTL_MSG_H */
