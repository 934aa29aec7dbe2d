/* bp_pidfile.h -- the master's pidfile: a file holding the master's pid, guarded by an
 * exclusive flock(2) held for the master's whole life.
 *
 * The lock, not the file's existence, says whether a master is running: a pidfile left
 * behind by a crash (no lock) is taken over silently; one locked by a live process is
 * refused with that process's pid. The lock belongs to the open file description, so it
 * survives fork(): open the pidfile BEFORE bp_daemonize() (the error then reaches the
 * terminal) and write the daemon's pid after. The fd is O_CLOEXEC, so a binary exec'ed for a
 * USR2 upgrade does not inherit it.
 *
 * USR2 upgrade, nginx style:
 *   old master: bp_pidfile_rename_oldbin(pf)   PATH -> PATH.oldbin, still locked by it
 *               fork + exec the new binary     the new master bp_pidfile_open()s PATH anew
 *   new master up: the old master drains and exits with bp_pidfile_close_remove(pf), which
 *               removes PATH.oldbin;
 *   new master failed: the old master calls bp_pidfile_rename_back(pf) (PATH.oldbin -> PATH)
 *               and keeps running.
 *
 * Typical master life:
 *   bp_pidfile_open(&pf, cfg->pool.pidfile, &err)   // refuses when another master runs
 *   bp_daemonize(...)                               // optional
 *   bp_pidfile_write(pf, getpid(), &err)
 *   ... run ...
 *   bp_pidfile_close_remove(pf)
 * A forked worker calls bp_pidfile_abandon(pf) on its inherited copy (closes the fd, frees;
 * the lock stays with the master, whose fd is still open).
 *
 * Permissions: the lock needs only the open fd, but removing the file at exit and the USR2
 * rename need write permission on its DIRECTORY. A master that dropped root (pool.user)
 * cannot do either in /run itself: put the pidfile in a directory owned by pool.user, e.g.
 * /run/bullpen/bullpen.pid (systemd: RuntimeDirectory=bullpen). A pidfile left behind is
 * harmless: it is unlocked, so the next start takes it over. */
#ifndef BP_PIDFILE_H
#define BP_PIDFILE_H

#include <stdbool.h>
#include <sys/types.h>

#include "bp_err.h"

typedef struct bp_pidfile bp_pidfile; /* opaque: path, fd, lock */

/* Create or open path (mode 0644) and take the exclusive non-blocking lock. When another
 * process holds the lock, returns -1 with err->msg "pidfile '/run/bullpen.pid' is locked by
 * running bullpen (pid 812); stop it first or use another pidfile" (kind BP_ERR_CONFIG).
 * Other failures (directory missing, permission) return -1 naming the path and errno (kind
 * BP_ERR_IO). On success stores the new handle in *out and returns 0; the file is not
 * written yet (call bp_pidfile_write()). */
int bp_pidfile_open(bp_pidfile **out, const char *path, bp_err *err);

/* Replace the file's content with "<pid>\n". Returns 0, or -1 with err set. */
int bp_pidfile_write(bp_pidfile *pf, pid_t pid, bp_err *err);

/* USR2: rename the locked file to "<path>.oldbin" (replacing any stale .oldbin) so a new
 * master can create path. Later calls to close_remove() remove the .oldbin. Returns 0, or
 * -1 with err set (nothing changed). */
int bp_pidfile_rename_oldbin(bp_pidfile *pf, bp_err *err);

/* The upgrade failed: rename "<path>.oldbin" back to path. Refuses (-1, err names the pid)
 * while another process holds the lock on path -- a new master is running after all, and
 * its pidfile must not be replaced. Returns 0, or -1 with err set. */
int bp_pidfile_rename_back(bp_pidfile *pf, bp_err *err);

/* The path the file has now (path, or path.oldbin after rename_oldbin()). Borrowed. */
const char *bp_pidfile_path(const bp_pidfile *pf);

/* On exit: unlink the file (only while it still is the one we locked), then close and free.
 * NULL is a no-op. */
void bp_pidfile_close_remove(bp_pidfile *pf);

/* In a child after fork: close the inherited fd and free; leaves the file and the parent's
 * lock alone. NULL is a no-op. */
void bp_pidfile_abandon(bp_pidfile *pf);

/* Read the pid stored in path (for ctl, init script helpers). Returns 0 and stores it in
 * *out, or -1 with err set: the file is missing (sys_errno ENOENT), unreadable, or does not
 * hold a positive decimal pid. Does not say whether that process still runs: see
 * bp_pidfile_is_locked(). */
int bp_pidfile_read(const char *path, pid_t *out, bp_err *err);

/* True when some process holds the lock on path, i.e. a master is running. A missing or
 * unreadable file is "not locked". */
bool bp_pidfile_is_locked(const char *path);

#endif /* BP_PIDFILE_H */
