/* bp_tls.h -- the one SSL_CTX, built once by the master from redis.tls and inherited by
 * every worker through fork(). Only SSL objects are per connection (bp_conn.c). */
#ifndef BP_TLS_H
#define BP_TLS_H

#include "bp_config.h"
#include "bp_err.h"

typedef struct ssl_ctx_st SSL_CTX;

/* Build a client context: CA file/dir (or the system store), client certificate and key,
 * minimum version, peer verification per tc->verify. Stores it in *out (free with
 * SSL_CTX_free()) and returns 0, or returns -1 with err set (kind BP_ERR_CONFIG) naming
 * the file and the config key to fix. */
int bp_tls_ctx_new(SSL_CTX **out, const bp_tls_config *tc, bp_err *err);
void bp_tls_ctx_free(SSL_CTX *ctx);

#endif /* BP_TLS_H */
