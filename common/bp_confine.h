/* bp_confine.h -- path confinement: open a job's file only beneath a directory the
 * configuration allows (the document handler's allowed_dirs).
 *
 * A bp_confine holds one O_PATH descriptor per allowed root, opened once (by the master,
 * before fork: the workers inherit them, close-on-exec). A job's path is matched against
 * the roots as text (the longest root that is a prefix at a '/' boundary), and the rest of
 * it is opened relative to that root's descriptor with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS): the kernel resolves every component, symbolic links included, and
 * refuses any step out of the root, so nothing can be raced between a check and the open.
 * Where the kernel has no openat2 (ENOSYS) the path is walked one component at a time with
 * O_NOFOLLOW, which refuses every symbolic link. Only a regular file is ever returned: the
 * file is opened O_NONBLOCK (a FIFO cannot block the worker) and checked with fstat.
 *
 * Every refusal is one message that names the path, the rule broken and allowed_dirs. */
#ifndef BP_CONFINE_H
#define BP_CONFINE_H

#include <stddef.h>
#include <sys/stat.h>

#include "bp_err.h"

typedef struct bp_confine bp_confine; /* opaque: defined in bp_confine.c */

/* Open each of the n absolute directories dirs[] as a root (O_PATH | O_DIRECTORY |
 * O_CLOEXEC). n may be 0: every path is then refused. On success stores a new object in
 * *out (free with bp_confine_free()) and returns 0; on failure returns -1 with err (kind
 * BP_ERR_CONFIG) naming the directory. */
int bp_confine_new(bp_confine **out, char *const *dirs, size_t n, bp_err *err);
void bp_confine_free(bp_confine *c); /* closes the roots; NULL is a no-op */

/* Number of roots (0 for NULL). */
size_t bp_confine_count(const bp_confine *c);

/* Open path (len bytes, which must hold no NUL) for reading beneath its allowed root.
 * Returns a descriptor (O_RDONLY | O_CLOEXEC, blocking) of a regular file and fills *st
 * when st is not NULL; the caller closes it. Returns -1 with err->msg the reason ("path
 * '<p>' refused: <rule>; allowed_dirs = [...]"), err->sys_errno the errno behind it (0 when
 * a rule refused it) and err->kind BP_ERR_CONFIG for a rule, BP_ERR_IO for an open error.
 * c may be NULL (no allowed_dirs): every path is refused. */
int bp_confine_open(const bp_confine *c, const char *path, size_t len, struct stat *st,
                    bp_err *err);

/* Write "[\"/a\", \"/b\"]" (the roots as configured, shortened with "..." to fit) into buf. */
void bp_confine_describe(const bp_confine *c, char *buf, size_t size);

struct open_how; /* <linux/openat2.h> */

/* The openat2 system call. Replaced by tests to simulate a kernel without it (ENOSYS);
 * returns a descriptor or -1 with errno set. */
extern long (*bp_confine_openat2)(int dirfd, const char *path, struct open_how *how, size_t size);

#endif /* BP_CONFINE_H */
