/* bp_poppler.c -- opens poppler's GLib API with dlopen() where a PDF is parsed (see
 * bp_poppler.h for why bullpen does not link it).
 *
 * Owns: the handle and the function table, filled once under pthread_once; the reason of a
 * failed load, kept so that every PDF names it. */
#include "bp_poppler.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bp_poppler api;
static bool loaded;
static char load_error[400];

/* Resolve every function of the table from handle; the name of the first missing one in
 * *missing. */
static int resolve(void *handle, bp_poppler *out, const char **missing)
{
#define BP_POPPLER_RESOLVE(member, symbol)           \
    *(void **)&out->member = dlsym(handle, #symbol); \
    if (out->member == NULL) {                       \
        *missing = #symbol;                          \
        return -1;                                   \
    }
    BP_POPPLER_FUNCTIONS(BP_POPPLER_RESOLVE)
#undef BP_POPPLER_RESOLVE
    return 0;
}

static void load(void)
{
    const char *missing = NULL;
    void *handle = dlopen(BP_POPPLER_GLIB_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (handle == NULL) {
        const char *e = dlerror();
        snprintf(load_error, sizeof(load_error),
                 "PDF support needs poppler's GLib library, which cannot be loaded (%s); "
                 "install it: apt-get install libpoppler-glib8",
                 e != NULL ? e : BP_POPPLER_GLIB_SONAME);
        return;
    }
    if (resolve(handle, &api, &missing) != 0) {
        snprintf(load_error, sizeof(load_error),
                 "PDF support needs poppler-glib 22.02 or newer: %s has no %s; upgrade the "
                 "package libpoppler-glib8",
                 BP_POPPLER_GLIB_SONAME, missing);
        dlclose(handle);
        return;
    }
    loaded = true; /* the handle stays open for the life of the process */
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
