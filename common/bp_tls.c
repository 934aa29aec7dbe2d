/* bp_tls.c -- builds the one client SSL_CTX from redis.tls.
 *
 * The master calls bp_tls_ctx_new() once, before fork; workers inherit the context and
 * make only their own SSL objects (bp_conn.c). The context's verify mode is the single
 * source of truth for "verify the peer": bp_conn reads it back with
 * SSL_CTX_get_verify_mode(), so a connection can never verify less than the context says.
 * Every error names the file and the config key to fix, with the first queued OpenSSL
 * reason (bp_err_set_ssl). Nothing here logs: the caller logs once. */
#include "bp_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BP_TLS_READ_BUF_LEN (64 * 1024) /* big reads: one recv() for several TLS records */

void bp_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx); /* NULL is a no-op in OpenSSL */
}

static const char *tls_version_name(int v)
{
    switch (v) {
    case TLS1_2_VERSION:
        return "TLSv1.2";
    case TLS1_3_VERSION:
        return "TLSv1.3";
    default:
        return "unknown";
    }
}

/* CA file/dir, or the system store when neither is set. */
static int tls_load_trust(SSL_CTX *ctx, const bp_tls_config *tc, bp_err *err)
{
    if (tc->ca_file != NULL && tc->ca_file[0] != '\0') {
        ERR_clear_error();
        if (SSL_CTX_load_verify_file(ctx, tc->ca_file) != 1) {
            bp_err_set_ssl(err, BP_ERR_CONFIG,
                           "cannot load CA file '%s' (redis.tls.ca_file); check that it exists, "
                           "is readable and holds PEM certificates",
                           tc->ca_file);
            return -1;
        }
    }
    if (tc->ca_dir != NULL && tc->ca_dir[0] != '\0') {
        ERR_clear_error();
        if (SSL_CTX_load_verify_dir(ctx, tc->ca_dir) != 1) {
            bp_err_set_ssl(err, BP_ERR_CONFIG,
                           "cannot use CA directory '%s' (redis.tls.ca_dir); check that it "
                           "exists and was prepared with 'openssl rehash'",
                           tc->ca_dir);
            return -1;
        }
    }
    if ((tc->ca_file == NULL || tc->ca_file[0] == '\0') &&
        (tc->ca_dir == NULL || tc->ca_dir[0] == '\0')) {
        ERR_clear_error();
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            bp_err_set_ssl(err, BP_ERR_CONFIG,
                           "cannot load the system CA store; set redis.tls.ca_file");
            return -1;
        }
    }
    return 0;
}

/* Client certificate and key for mutual TLS: both or neither. */
static int tls_load_identity(SSL_CTX *ctx, const bp_tls_config *tc, bp_err *err)
{
    bool have_cert = tc->cert_file != NULL && tc->cert_file[0] != '\0';
    bool have_key = tc->key_file != NULL && tc->key_file[0] != '\0';

    if (!have_cert && !have_key)
        return 0;
    if (have_cert != have_key) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "redis.tls.%s is set but redis.tls.%s is not; mutual TLS needs both the "
                   "client certificate and its key",
                   have_cert ? "cert_file" : "key_file", have_cert ? "key_file" : "cert_file");
        return -1;
    }
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert_file) != 1) {
        bp_err_set_ssl(err, BP_ERR_CONFIG,
                       "cannot load client certificate '%s' (redis.tls.cert_file)", tc->cert_file);
        return -1;
    }
    ERR_clear_error();
    if (SSL_CTX_use_PrivateKey_file(ctx, tc->key_file, SSL_FILETYPE_PEM) != 1) {
        bp_err_set_ssl(err, BP_ERR_CONFIG,
                       "cannot load client key '%s' (redis.tls.key_file); it must be the "
                       "unencrypted PEM key of certificate '%s' (redis.tls.cert_file)",
                       tc->key_file, tc->cert_file);
        return -1;
    }
    ERR_clear_error();
    if (SSL_CTX_check_private_key(ctx) != 1) {
        bp_err_set_ssl(err, BP_ERR_CONFIG,
                       "client key '%s' (redis.tls.key_file) does not match certificate '%s' "
                       "(redis.tls.cert_file)",
                       tc->key_file, tc->cert_file);
        return -1;
    }
    return 0;
}

int bp_tls_ctx_new(SSL_CTX **out, const bp_tls_config *tc, bp_err *err)
{
    int min_version = tc->min_version != 0 ? tc->min_version : TLS1_2_VERSION;
    SSL_CTX *ctx;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        bp_err_set_ssl(err, BP_ERR_CONFIG, "cannot create TLS context");
        return -1;
    }
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) {
        bp_err_set_ssl(err, BP_ERR_CONFIG,
                       "cannot set minimum TLS version %s (redis.tls.min_version)",
                       tls_version_name(min_version));
        goto out_free_ctx;
    }
    if (tls_load_trust(ctx, tc, err) != 0)
        goto out_free_ctx;
    if (tls_load_identity(ctx, tc, err) != 0)
        goto out_free_ctx;
    SSL_CTX_set_verify(ctx, tc->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    /* our flush never modifies the buffer between retries, but be lenient anyway */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1); /* one read(2) per burst, not two per record */
    SSL_CTX_set_default_read_buffer_len(ctx, BP_TLS_READ_BUF_LEN);
    *out = ctx; /* caller owns it: bp_tls_ctx_free() */
    return 0;

out_free_ctx:
    SSL_CTX_free(ctx);
    return -1;
}
