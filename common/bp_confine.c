/* bp_confine.c -- path confinement: a job's file is opened only beneath an allowed root.
 *
 * Invariants:
 *  - the roots are opened once, as O_PATH descriptors, and never re-resolved by name: a
 *    root renamed or replaced by a symbolic link after start keeps pointing at the
 *    directory that was opened;
 *  - a path is never checked and then opened by name (no realpath-then-open): the open
 *    itself, relative to the root's descriptor, is what refuses an escape;
 *  - '..' is refused as text before any system call, even where it would stay inside: a
 *    job has no business climbing, and the reason is then exact;
 *  - the file is opened O_NONBLOCK, so a FIFO returns at once and is refused by fstat;
 *    O_NONBLOCK is cleared again on the regular file that is returned;
 *  - messages quote the job's path with control bytes escaped and a length cap: it is
 *    input from whoever added the job, and it goes to logs and to Redis. */
#include "bp_confine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BP_CONFINE_QUOTE_MAX 160 /* bytes of a job's path quoted in a message */
#define BP_CONFINE_RETRIES   8   /* openat2 EAGAIN: a rename raced the lookup; try again */

struct bp_confine {
    size_t n;     /* roots */
    char **dirs;  /* their paths as configured, without a trailing '/' ("/" stays "/") */
    size_t *lens; /* strlen of each */
    int *fds;     /* O_PATH descriptors, close-on-exec */
};

static long sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size)
{
#ifdef SYS_openat2
    return syscall(SYS_openat2, dirfd, path, how, size);
#else
    (void)dirfd, (void)path, (void)how, (void)size;
    errno = ENOSYS;
    return -1;
#endif
}

long (*bp_confine_openat2)(int dirfd, const char *path, struct open_how *how,
                           size_t size) = sys_openat2;

int bp_confine_new(bp_confine **out, char *const *dirs, size_t n, bp_err *err)
{
    bp_confine *c = calloc(1, sizeof(*c));

    if (c == NULL || (n > 0 && ((c->dirs = calloc(n, sizeof(c->dirs[0]))) == NULL ||
                                (c->lens = calloc(n, sizeof(c->lens[0]))) == NULL ||
                                (c->fds = calloc(n, sizeof(c->fds[0]))) == NULL))) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory opening allowed_dirs");
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dirs[i]);

        while (len > 1 && dirs[i][len - 1] == '/')
            len--;
        c->fds[i] = -1;
        c->dirs[i] = strndup(dirs[i], len);
        if (c->dirs[i] == NULL) {
            bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory opening allowed_dirs");
            goto out_free;
        }
        c->lens[i] = len;
        c->n = i + 1;
        c->fds[i] = open(c->dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c->fds[i] < 0) {
            int e = errno;
            bp_err_set(err, BP_ERR_CONFIG, e,
                       "allowed_dirs: cannot open directory '%s': %s; create it, or fix or "
                       "remove the entry",
                       c->dirs[i], strerror(e));
            goto out_free;
        }
    }
    *out = c;
    return 0;

out_free:
    bp_confine_free(c);
    return -1;
}

void bp_confine_free(bp_confine *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->fds[i] >= 0)
            close(c->fds[i]);
        free(c->dirs[i]);
    }
    free(c->dirs);
    free(c->lens);
    free(c->fds);
    free(c);
}

size_t bp_confine_count(const bp_confine *c)
{
    return c != NULL ? c->n : 0;
}

void bp_confine_describe(const bp_confine *c, char *buf, size_t size)
{
    size_t used = 0;

    if (size == 0)
        return;
    used += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; c != NULL && i < c->n && used < size; i++) {
        size_t need = c->lens[i] + 6;
        if (used + need + 5 >= size) {
            snprintf(buf + used, size - used, "%s...", i > 0 ? ", " : "");
            used = strlen(buf);
            break;
        }
        used +=
            (size_t)snprintf(buf + used, size - used, "%s\"%s\"", i > 0 ? ", " : "", c->dirs[i]);
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* The job's path as it may appear in a message: control bytes as \xNN, at most
 * BP_CONFINE_QUOTE_MAX bytes of it, "..." when cut. */
static void quote_path(const char *path, size_t len, char *buf, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 8 < size; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (i == BP_CONFINE_QUOTE_MAX) {
            o += (size_t)snprintf(buf + o, size - o, "...");
            break;
        }
        if (ch < 0x20 || ch == 0x7f || ch == '\'' || ch == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
        else
            buf[o++] = (char)ch;
    }
    buf[o] = '\0';
}

/* err: "path '<p>' refused: <rule>; allowed_dirs = [...]". Returns -1. */
static int refuse(const bp_confine *c, const char *path, size_t len, bp_err *err, bp_err_kind kind,
                  int e, const char *rule)
{
    char q[4 * BP_CONFINE_QUOTE_MAX + 8], dirs[192];

    quote_path(path, len, q, sizeof(q));
    if (c == NULL || c->n == 0) { /* the rule says it all */
        bp_err_set(err, kind, e, "path '%s' refused: %s", q, rule);
        return -1;
    }
    bp_confine_describe(c, dirs, sizeof(dirs));
    bp_err_set(err, kind, e, "path '%s' refused: %s; allowed_dirs = %s", q, rule, dirs);
    return -1;
}

/* The root whose directory holds path (the longest match), or -1. */
static ssize_t find_root(const bp_confine *c, const char *path, size_t len)
{
    ssize_t best = -1;

    for (size_t i = 0; c != NULL && i < c->n; i++) {
        size_t rl = c->lens[i];
        bool root_is_slash = rl == 1 && c->dirs[i][0] == '/';

        if (len < rl || memcmp(path, c->dirs[i], rl) != 0)
            continue;
        if (!root_is_slash && len > rl && path[rl] != '/')
            continue; /* "/srv/uploads2" is not under "/srv/uploads" */
        if (best < 0 || rl > c->lens[best])
            best = (ssize_t)i;
    }
    return best;
}

/* true when a component of rel is "..". */
static bool has_dotdot(const char *rel)
{
    for (const char *p = rel; *p != '\0';) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += n;
        p += strspn(p, "/");
    }
    return false;
}

/* What a non-regular file is, for the message. */
static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory, not a regular file";
    if (S_ISFIFO(m))
        return "a FIFO (named pipe), not a regular file";
    if (S_ISCHR(m))
        return "a character device, not a regular file";
    if (S_ISBLK(m))
        return "a block device, not a regular file";
    if (S_ISSOCK(m))
        return "a socket, not a regular file";
    if (S_ISLNK(m))
        return "a symbolic link";
    return "not a regular file";
}

/* Kernels without openat2: walk rel one component at a time from root, never following a
 * symbolic link. Returns a descriptor, or -1 with errno (ELOOP for a link). */
static int walk_nofollow(int root, const char *rel, int flags)
{
    char comp[NAME_MAX + 1];
    int dir = root;
    size_t rl = strlen(rel);

    if (rl > 0 && rel[rl - 1] == '/')
        flags |= O_DIRECTORY; /* "file/" names a directory, as the kernel reads it */

    for (const char *p = rel;;) {
        size_t n;
        int fd;

        p += strspn(p, "/");
        n = strcspn(p, "/");
        if (n > NAME_MAX) {
            errno = ENAMETOOLONG;
            goto out_fail;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        p += strspn(p, "/");
        if (*p == '\0') { /* the last component: the file itself */
            fd = openat(dir, n > 0 ? comp : ".", flags | O_NOFOLLOW);
            if (fd < 0)
                goto out_fail;
            if (dir != root)
                close(dir);
            return fd;
        }
        if (n == 1 && comp[0] == '.')
            continue;
        fd = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            struct stat st;
            int e = errno;
            if (e == ENOTDIR && fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                e = ELOOP; /* O_PATH | O_DIRECTORY on a link says ENOTDIR */
            errno = e;
            goto out_fail;
        }
        if (dir != root)
            close(dir);
        dir = fd;
    }

out_fail : {
    int e = errno;
    if (dir != root)
        close(dir);
    errno = e;
    return -1;
}
}

/* Open rel beneath root: openat2, or the walk where the kernel lacks it. Sets *walked. */
static int open_beneath(int root, const char *rel, int flags, bool *walked)
{
    struct open_how how = {.flags = (unsigned long long)flags,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = -1;

    *walked = false;
    for (int i = 0; i < BP_CONFINE_RETRIES; i++) {
        fd = bp_confine_openat2(root, rel[0] != '\0' ? rel : ".", &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    if (fd < 0 && errno == ENOSYS) {
        *walked = true;
        return walk_nofollow(root, rel, flags);
    }
    return (int)fd;
}

int bp_confine_open(const bp_confine *c, const char *path, size_t len, struct stat *st, bp_err *err)
{
    char rule[512], root_q[200];
    const char *rel;
    struct stat sb;
    ssize_t r;
    bool walked;
    int fd, fl, e;

    if (memchr(path, '\0', len) != NULL)
        return refuse(c, path, len, err, BP_ERR_CONFIG, 0, "it holds a NUL byte");
    if (c == NULL || c->n == 0)
        return refuse(c, path, len, err, BP_ERR_CONFIG, 0,
                      "this handler has no allowed_dirs, so jobs may not name files; list the "
                      "directories jobs may read, e.g. allowed_dirs = [ \"/srv/uploads\" ]");
    if (len == 0 || path[0] != '/')
        return refuse(c, path, len, err, BP_ERR_CONFIG, 0, "not an absolute path");
    if (len >= PATH_MAX)
        return refuse(c, path, len, err, BP_ERR_CONFIG, ENAMETOOLONG,
                      "longer than PATH_MAX (4096 bytes)");
    r = find_root(c, path, len);
    if (r < 0)
        return refuse(c, path, len, err, BP_ERR_CONFIG, 0,
                      "not beneath any directory of allowed_dirs");
    rel = path + c->lens[r];
    rel += strspn(rel, "/");
    if (has_dotdot(rel))
        return refuse(c, path, len, err, BP_ERR_CONFIG, 0,
                      "a '..' component is not allowed beneath allowed_dirs");
    quote_path(c->dirs[r], c->lens[r], root_q, sizeof(root_q));
    fd = open_beneath(c->fds[r], rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, &walked);
    if (fd < 0) {
        e = errno;
        if (e == EXDEV)
            snprintf(rule, sizeof(rule),
                     "a symbolic link leads out of its allowed_dirs root '%s' (links must stay "
                     "inside it and be relative)",
                     root_q);
        else if (e == ELOOP && walked)
            snprintf(rule, sizeof(rule),
                     "it goes through a symbolic link beneath '%s', and this kernel has no "
                     "openat2 to follow links safely",
                     root_q);
        else if (e == ELOOP)
            snprintf(rule, sizeof(rule),
                     "too many symbolic links or a /proc magic link beneath '%s'", root_q);
        else if (e == ENXIO)
            snprintf(rule, sizeof(rule), "a socket or a device with no reader, not a regular file");
        else
            snprintf(rule, sizeof(rule), "cannot open it beneath allowed_dirs root '%s': %s",
                     root_q, strerror(e));
        return refuse(c, path, len, err, (e == EXDEV || e == ELOOP) ? BP_ERR_CONFIG : BP_ERR_IO, e,
                      rule);
    }
    if (fstat(fd, &sb) != 0) {
        e = errno;
        close(fd);
        snprintf(rule, sizeof(rule), "fstat: %s", strerror(e));
        return refuse(c, path, len, err, BP_ERR_IO, e, rule);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return refuse(c, path, len, err, BP_ERR_CONFIG, 0, kind_of(sb.st_mode));
    }
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (st != NULL)
        *st = sb;
    return fd;
}
