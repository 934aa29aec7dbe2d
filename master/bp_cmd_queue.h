/* bp_cmd_queue.h -- the `bullpen enqueue` and `bullpen stats` commands: one short-lived
 * client connection, the queue protocol of common/bp_queue.h, output on stdout, a sysexits
 * code back to main.c. */
#ifndef BP_CMD_QUEUE_H
#define BP_CMD_QUEUE_H

#include <stdbool.h>

#include "bp_config.h"
#include "bp_conn.h"
#include "bp_err.h"

/* Open one connection to cfg's Redis named "bullpen:<host>:<pid>:<role>", building the TLS
 * context when the URL is rediss://. Stores the connection in *out and the context (NULL for
 * plain TCP and unix sockets; free with bp_tls_ctx_free() after closing) in *tls_out.
 * Returns 0, or -1 with err set. */
int bp_cmd_connect(const bp_config *cfg, const char *role, bp_conn **out, SSL_CTX **tls_out,
                   bp_err *err);

/* `bullpen enqueue`: add job NAME with data JSON (any JSON value) and opts (JSON object or
 * NULL) to queue (NULL = the first configured queue), Bull's way. Prints the id on stdout.
 * Returns 0; 65 (EX_DATAERR) for bad JSON, naming the argument and the position; 64 for an
 * unknown queue; 69/78 when Redis cannot be reached or refuses the TLS/AUTH setup. */
int bp_cmd_enqueue(const bp_config *cfg, const char *queue, const char *name, const char *json,
                   const char *opts);

/* `bullpen stats`: counts per state for queue (NULL = every configured queue) and the live
 * workers from the masters' heartbeat keys (<control_channel>:host:*). A table, or with
 * json {"queues": {name: {waiting, active, completed, failed, delayed, paused}},
 * "workers": [...]}. Returns a sysexits code. */
int bp_cmd_stats(const bp_config *cfg, const char *queue, bool json);

#endif /* BP_CMD_QUEUE_H */
