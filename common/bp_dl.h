/* bp_dl.h -- an optional library opened with dlopen() where it is used, not linked.
 *
 * bullpen links only what every process needs. A library that one process needs for one
 * feature (poppler-glib in the sandbox's extractor, libmicrohttpd for the master's /metrics,
 * libsystemd for sd_notify under systemd) would otherwise be mapped, with the libraries it
 * needs in turn, into the master, every worker and every extractor at start. Its user keeps
 * a table of function pointers (typed with __typeof__ from the library's header) and fills
 * it with bp_dl_open() once. */
#ifndef BP_DL_H
#define BP_DL_H

#include <stddef.h>

/* Open soname (RTLD_NOW | RTLD_LOCAL) and set *slots[i] to the address of function names[i],
 * for i < n. Returns the handle, which the caller keeps open for the life of the process, or
 * NULL with why set to "SONAME cannot be loaded (dlerror's text)" or "SONAME has no SYMBOL"
 * (the slots are then unspecified). */
void *bp_dl_open(const char *soname, const char *const *names, void **const *slots, size_t n,
                 char *why, size_t cap);

#endif /* BP_DL_H */
