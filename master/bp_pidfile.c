/* bp_pidfile.c -- the master's pidfile and its flock(2), see bp_pidfile.h.
 *
 * Invariants: pf->fd refers to the file we locked for as long as pf lives; pf->path is the
 * name that file has now (it changes on rename_oldbin/rename_back). We only ever unlink a
 * name after checking that it still points at our inode, so an exiting old master never
 * removes the pidfile a new master just created. A name can be unlinked by an exiting
 * master between our open() and our flock(): after locking we compare the inode of the fd
 * with the inode of the name and start again when they differ. */
#include "bp_pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BP_PIDFILE_OPEN_TRIES 5     /* inode races and probe locks are rare; give up after this */
#define BP_PIDFILE_RETRY_US   20000 /* a bp_pidfile_is_locked() probe holds its lock ~1 ms */

struct bp_pidfile {
    int fd;      /* O_CLOEXEC, holds the LOCK_EX */
    char *path;  /* current name of the locked file (malloc) */
    char *base;  /* the configured path (malloc) */
    bool oldbin; /* true after rename_oldbin() */
};

/* Parse "<pid>\n" from buf; returns the pid or 0 when it is not one. */
static pid_t parse_pid(const char *buf)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || v <= 0 || v > INT_MAX)
        return 0;
    while (*end == '\n' || *end == ' ' || *end == '\r' || *end == '\t')
        end++;
    if (*end != '\0')
        return 0;
    return (pid_t)v;
}

/* Read the pid stored in an open file (from offset 0), 0 when none. */
static pid_t read_pid_fd(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return parse_pid(buf);
}

/* True when fd and path name the same inode. */
static bool same_file(int fd, const char *path)
{
    struct stat a, b;

    if (fstat(fd, &a) != 0 || stat(path, &b) != 0)
        return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* One attempt: 1 locked (fd stored), 0 try again (race), -1 failure with err set. */
static int try_lock(const char *path, int *fd_out, bp_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e,
                   "cannot open pidfile '%s': %s; check that its directory exists and is writable",
                   path, strerror(e));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            pid_t pid = read_pid_fd(fd);
            close(fd);
            if (pid > 0)
                bp_err_set(err, BP_ERR_CONFIG, 0,
                           "pidfile '%s' is locked by running bullpen (pid %ld); stop it first "
                           "or use another pidfile",
                           path, (long)pid);
            else
                bp_err_set(err, BP_ERR_CONFIG, 0,
                           "pidfile '%s' is locked by running bullpen (pid not written yet); "
                           "stop it first or use another pidfile",
                           path);
            return 0;
        }
        close(fd);
        bp_err_set(err, BP_ERR_IO, e, "cannot lock pidfile '%s': %s", path, strerror(e));
        return -1;
    }
    if (!same_file(fd, path)) {
        close(fd); /* unlinked or replaced by an exiting master meanwhile */
        bp_err_set(err, BP_ERR_IO, 0,
                   "pidfile '%s' keeps being replaced; is another bullpen starting?", path);
        return 0;
    }
    *fd_out = fd;
    return 1;
}

int bp_pidfile_open(bp_pidfile **out, const char *path, bp_err *err)
{
    bp_pidfile *pf;
    int fd = -1;
    int rc = 0;

    for (int i = 0; i < BP_PIDFILE_OPEN_TRIES && rc == 0; i++) {
        if (i > 0)
            usleep(BP_PIDFILE_RETRY_US);
        rc = try_lock(path, &fd, err);
    }
    if (rc <= 0)
        return -1; /* err says why: the last attempt's reason */

    pf = calloc(1, sizeof(*pf));
    if (pf == NULL)
        goto err_close_fd;
    pf->fd = fd;
    pf->base = strdup(path);
    pf->path = strdup(path);
    if (pf->base == NULL || pf->path == NULL)
        goto err_free_pf;
    *out = pf;
    return 0;

err_free_pf:
    free(pf->base);
    free(pf->path);
    free(pf);
err_close_fd:
    close(fd);
    bp_err_set(err, BP_ERR_IO, ENOMEM, "cannot open pidfile '%s': out of memory", path);
    return -1;
}

int bp_pidfile_write(bp_pidfile *pf, pid_t pid, bp_err *err)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);

    if (ftruncate(pf->fd, 0) != 0 || pwrite(pf->fd, buf, (size_t)len, 0) != (ssize_t)len) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e, "cannot write pidfile '%s': %s", pf->path, strerror(e));
        return -1;
    }
    return 0;
}

/* Rename pf's file from its current name to `to`, which becomes its path. */
static int rename_to(bp_pidfile *pf, const char *to, bool oldbin, bp_err *err)
{
    char *copy = strdup(to);

    if (copy == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "cannot rename pidfile '%s': out of memory", pf->path);
        return -1;
    }
    if (!same_file(pf->fd, pf->path)) {
        bp_err_set(err, BP_ERR_IO, 0,
                   "cannot rename pidfile '%s': it was removed or replaced by someone else",
                   pf->path);
        free(copy);
        return -1;
    }
    if (rename(pf->path, to) != 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e, "cannot rename pidfile '%s' to '%s': %s", pf->path, to,
                   strerror(e));
        free(copy);
        return -1;
    }
    free(pf->path);
    pf->path = copy;
    pf->oldbin = oldbin;
    return 0;
}

int bp_pidfile_rename_oldbin(bp_pidfile *pf, bp_err *err)
{
    char to[PATH_MAX];

    if (pf->oldbin)
        return 0;
    if ((size_t)snprintf(to, sizeof(to), "%s.oldbin", pf->base) >= sizeof(to)) {
        bp_err_set(err, BP_ERR_IO, ENAMETOOLONG, "pidfile path '%s' is too long", pf->base);
        return -1;
    }
    return rename_to(pf, to, true, err);
}

int bp_pidfile_rename_back(bp_pidfile *pf, bp_err *err)
{
    pid_t other = 0;
    bp_err ignored;

    if (!pf->oldbin)
        return 0;
    /* a new master that is up holds the lock on path: never replace its file (the upgrade
     * succeeded after all); an unlocked leftover of a crashed new master may be replaced */
    if (bp_pidfile_is_locked(pf->base)) {
        (void)bp_pidfile_read(pf->base, &other, &ignored);
        bp_err_set(err, BP_ERR_IO, 0,
                   "pidfile '%s' is locked by another running bullpen (pid %ld); keeping '%s'",
                   pf->base, (long)other, pf->path);
        return -1;
    }
    return rename_to(pf, pf->base, false, err);
}

const char *bp_pidfile_path(const bp_pidfile *pf)
{
    return pf->path;
}

void bp_pidfile_close_remove(bp_pidfile *pf)
{
    if (pf == NULL)
        return;
    if (same_file(pf->fd, pf->path))
        (void)unlink(pf->path); /* still ours: a new master's file is never touched */
    close(pf->fd);              /* releases the lock */
    free(pf->path);
    free(pf->base);
    free(pf);
}

void bp_pidfile_abandon(bp_pidfile *pf)
{
    if (pf == NULL)
        return;
    close(pf->fd);
    free(pf->path);
    free(pf->base);
    free(pf);
}

int bp_pidfile_read(const char *path, pid_t *out, bp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    pid_t pid;

    if (fd < 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e, "cannot read pidfile '%s': %s", path, strerror(e));
        return -1;
    }
    pid = read_pid_fd(fd);
    close(fd);
    if (pid <= 0) {
        bp_err_set(err, BP_ERR_IO, 0, "pidfile '%s' does not hold a pid", path);
        return -1;
    }
    *out = pid;
    return 0;
}

bool bp_pidfile_is_locked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool locked = false;

    if (fd < 0)
        return false;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0)
        locked = (errno == EWOULDBLOCK);
    close(fd); /* drops our probe lock at once */
    return locked;
}
