/* bp_mhd.c -- opens libmicrohttpd with dlopen() for the master's metrics server (see
 * bp_mhd.h). Owns the function table; the handle stays open for the life of the process. */
#include "bp_mhd.h"

#include <stdbool.h>
#include <stdio.h>

#include "bp_dl.h"

const bp_mhd *bp_mhd_get(bp_err *err)
{
    static const char *const names[] = {
#define BP_MHD_NAME(member, symbol) #symbol,
        BP_MHD_FUNCTIONS(BP_MHD_NAME)
#undef BP_MHD_NAME
    };
    static bp_mhd api;
    static bool loaded;
    void **const slots[] = {
#define BP_MHD_SLOT(member, symbol) (void **)&api.member,
        BP_MHD_FUNCTIONS(BP_MHD_SLOT)
#undef BP_MHD_SLOT
    };
    char why[300];

    if (!loaded) {
        if (bp_dl_open(BP_MHD_SONAME, names, slots, sizeof(names) / sizeof(names[0]), why,
                       sizeof(why)) == NULL) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "the metrics server needs libmicrohttpd, and %s; install it: apt-get "
                       "install libmicrohttpd12, or remove metrics.listen",
                       why);
            return NULL;
        }
        loaded = true;
    }
    return &api;
}
