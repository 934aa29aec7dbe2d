/* bp_mhd.h -- libmicrohttpd, opened with dlopen() by the master when metrics.listen is set.
 *
 * Linked, libmicrohttpd and what it needs (gnutls, nettle, hogweed, gmp, p11-kit, libtasn1,
 * libidn2, libunistring, libffi) were mapped into every bullpen process at start: the
 * workers and the sandbox's extractors too, which never serve HTTP. Built against the
 * header only (bp_dl.h); a master without the library refuses metrics.listen with the
 * package to install.
 *
 * Owns: the function table, filled once (the handle stays open). */
#ifndef BP_MHD_H
#define BP_MHD_H

#include <microhttpd.h>

#include "bp_err.h"

#ifndef BP_MHD_SONAME
#define BP_MHD_SONAME "libmicrohttpd.so.12" /* Debian 12: package libmicrohttpd12 */
#endif

/* X(member, symbol): every function the metrics server calls. */
#define BP_MHD_FUNCTIONS(X)                                         \
    X(start_daemon, MHD_start_daemon)                               \
    X(stop_daemon, MHD_stop_daemon)                                 \
    X(is_feature_supported, MHD_is_feature_supported)               \
    X(create_response_from_buffer, MHD_create_response_from_buffer) \
    X(add_response_header, MHD_add_response_header)                 \
    X(queue_response, MHD_queue_response)                           \
    X(destroy_response, MHD_destroy_response)

typedef struct bp_mhd {
#define BP_MHD_MEMBER(member, symbol) __typeof__(symbol) *member;
    BP_MHD_FUNCTIONS(BP_MHD_MEMBER)
#undef BP_MHD_MEMBER
} bp_mhd;

/* The loaded API, opening the library at the first call. NULL when it cannot be loaded: err
 * says why and which package to install. Called from the master's main thread only. */
const bp_mhd *bp_mhd_get(bp_err *err);

#endif /* BP_MHD_H */
