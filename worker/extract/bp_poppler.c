/* bp_poppler.c -- opens poppler's GLib API with dlopen() where a PDF is parsed (see
 * bp_poppler.h for why bullpen does not link it).
 *
 * Owns: the function table, filled once under pthread_once (the handle stays open for the
 * life of the process: poppler keeps global state); the reason of a failed load, kept so
 * that every PDF names it. */
#include "bp_poppler.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "bp_dl.h"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bp_poppler api;
static bool loaded;
static char load_error[512];

static void load(void)
{
    static const char *const names[] = {
#define BP_POPPLER_NAME(member, symbol) #symbol,
        BP_POPPLER_FUNCTIONS(BP_POPPLER_NAME)
#undef BP_POPPLER_NAME
    };
    void **const slots[] = {
#define BP_POPPLER_SLOT(member, symbol) (void **)&api.member,
        BP_POPPLER_FUNCTIONS(BP_POPPLER_SLOT)
#undef BP_POPPLER_SLOT
    };
    char why[300];

    if (bp_dl_open(BP_POPPLER_GLIB_SONAME, names, slots, sizeof(names) / sizeof(names[0]), why,
                   sizeof(why)) != NULL)
        loaded = true;
    else
        snprintf(load_error, sizeof(load_error),
                 "PDF support needs poppler's GLib library, and %s; install it: apt-get install "
                 "libpoppler-glib8 (poppler-glib 22.02 or newer)",
                 why);
}

const bp_poppler *bp_poppler_get(bp_err *err)
{
    pthread_once(&load_once, load);
    if (!loaded) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "%s", load_error);
        return NULL;
    }
    return &api;
}
