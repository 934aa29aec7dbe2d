/* bp_scripts.h -- bullpen's Lua scripts (common/lua/NAME.lua), embedded at build time, and
 * running them with EVALSHA and an EVAL fallback on NOSCRIPT (after a Redis restart or
 * SCRIPT FLUSH). */
#ifndef BP_SCRIPTS_H
#define BP_SCRIPTS_H

#include <stddef.h>

#include <hiredis.h>

#include "bp_err.h"

typedef struct bp_conn bp_conn;

typedef struct bp_script_source {
    const char *name;   /* file name without .lua: "take", "finish", ... */
    const char *source; /* the Lua text */
    size_t len;         /* bytes in source */
} bp_script_source;

extern const bp_script_source bp_script_sources[]; /* generated; ends with name NULL */

typedef struct bp_script {
    const char *name;   /* borrowed from bp_script_sources */
    const char *source; /* borrowed */
    size_t len;
    char sha1[41]; /* hex SHA-1 of source, computed locally */
} bp_script;

/* Look a script up by name (computes its SHA-1 on first use). NULL when unknown. */
const bp_script *bp_script_get(const char *name);

/* SCRIPT LOAD every embedded script on c (the preflight and start-up check). */
int bp_scripts_load_all(bp_conn *c, bp_err *err);

/* EVALSHA s numkeys keys... args...; on NOSCRIPT, EVAL the source. argv holds the keys
 * then the args (numkeys of them are keys). Returns the reply (error replies returned as
 * NULL with kind BP_ERR_REPLY), or NULL with err set. */
redisReply *bp_script_run(bp_conn *c, const bp_script *s, int numkeys, int argc, const char **argv,
                          const size_t *argvlen, bp_err *err);

/* Pipelined variant: append EVALSHA to c's output buffer (no reply read). The caller reads
 * the reply with bp_conn_read_reply() and must handle NOSCRIPT itself (by calling
 * bp_script_run()). */
int bp_script_append(bp_conn *c, const bp_script *s, int numkeys, int argc, const char **argv,
                     const size_t *argvlen, bp_err *err);

#endif /* BP_SCRIPTS_H */
