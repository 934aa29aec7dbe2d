/* bp_dl.c -- opens an optional library and resolves the functions its user calls (see
 * bp_dl.h). Owns nothing: the handle goes to the caller. */
#include "bp_dl.h"

#include <dlfcn.h>
#include <stdio.h>

void *bp_dl_open(const char *soname, const char *const *names, void **const *slots, size_t n,
                 char *why, size_t cap)
{
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

    if (handle == NULL) {
        const char *e = dlerror();
        snprintf(why, cap, "%s cannot be loaded (%s)", soname, e != NULL ? e : "no reason given");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        /* POSIX: a function's address comes back from dlsym() as a void * */
        *slots[i] = dlsym(handle, names[i]);
        if (*slots[i] == NULL) {
            snprintf(why, cap, "%s has no %s", soname, names[i]);
            dlclose(handle);
            return NULL;
        }
    }
    return handle;
}
