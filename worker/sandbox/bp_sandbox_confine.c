/* bp_sandbox_confine.c -- what the extraction sandbox forbids, and how.
 *
 * Two layers, applied in two places:
 *   - the extractor, once at start (bp_sbx_confine_server): no_new_privs, no capabilities,
 *     not dumpable (no ptrace attach, no core file holding a document), and a Landlock
 *     domain with no rule: no file may be opened, created or removed by path, no TCP bind
 *     or connect, and (ABI 6) no signal or abstract unix socket outside the domain. Its
 *     children inherit all of it. A kernel without Landlock is reported (HELLO) and logged
 *     by the worker; seccomp below still forbids every open.
 *   - each child, after fork (bp_sbx_confine_child): rlimits (RLIMIT_AS = the address space
 *     at fork plus memory_mb, RLIMIT_CPU, RLIMIT_FSIZE 0, RLIMIT_NOFILE = the six fds it
 *     holds, RLIMIT_CORE 0), handlers that report a fatal signal on the progress pipe, then
 *     a seccomp filter (libseccomp) that allows only computing on what it already holds:
 *     read/write/seek on its fds, memory management without PROT_EXEC, signals to itself,
 *     clocks, exit. Anything else (open, socket, connect, execve, fork, ptrace, kill of
 *     another process, ...) traps: the SIGSYS handler writes the system call number on the
 *     progress pipe and the child dies by SIGSYS, so the job's reason names the call.
 *
 * The trap handler is only for the message: the refused call has already failed, and a
 * child that replaces the handler still cannot make the call. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bp_sandbox_proto.h"

/* Landlock's kernel ABI (linux/landlock.h of Debian 12 stops at ABI 2; the values are the
 * kernel's stable UAPI). */
#define BP_LL_CREATE_RULESET_VERSION (1u << 0)
#define BP_LL_FS_ABI1                ((1ull << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define BP_LL_FS_REFER               (1ull << 13)       /* ABI 2 */
#define BP_LL_FS_TRUNCATE            (1ull << 14)       /* ABI 3 */
#define BP_LL_FS_IOCTL_DEV           (1ull << 15)       /* ABI 5 */
#define BP_LL_NET_BIND_TCP           (1ull << 0)        /* ABI 4 */
#define BP_LL_NET_CONNECT_TCP        (1ull << 1)        /* ABI 4 */
#define BP_LL_SCOPE_ABSTRACT_UNIX    (1ull << 0)        /* ABI 6 */
#define BP_LL_SCOPE_SIGNAL           (1ull << 1)        /* ABI 6 */

struct bp_ll_ruleset_attr {
    uint64_t handled_access_fs;  /* ABI 1 */
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

#define BP_SBX_ALTSTACK (64 * 1024) /* room for the fatal-signal handler (and ASan's) */
#define BP_SBX_PROBE    (1 << 20)   /* a 1 MiB mapping that fails means no memory left */

#define BP_SBX_PID_MARK                                                           \
    0x7fff5eedu             /* stands for the child's pid in the prepared filter: \
                             * above any pid (pid_max <= 2^22) */
#define BP_SBX_BPF_MAX 4096 /* instructions; the filter has about 150 */

static int child_progress_fd = -1; /* where the fatal-signal handlers write */
static bp_sbx_rec unsent_progress; /* the child's newest progress not sent yet (kind 0: none) */

/* The filter compiled once in the extractor (bp_sbx_filter_prepare), with BP_SBX_PID_MARK
 * where the child's pid goes: a child patches in its pid and loads it in microseconds,
 * instead of having libseccomp build and compile it again (about 0.25 ms). */
static struct sock_filter prepared[BP_SBX_BPF_MAX];
static size_t n_prepared; /* 0 = not prepared: build per child */

static int landlock_restrict(void)
{
    struct bp_ll_ruleset_attr attr = {0};
    size_t size = sizeof(attr.handled_access_fs);
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, BP_LL_CREATE_RULESET_VERSION);
    int fd;

    if (abi < 0)
        return errno == ENOSYS || errno == EOPNOTSUPP ? 0 : -errno;
    attr.handled_access_fs = BP_LL_FS_ABI1;
    if (abi >= 2)
        attr.handled_access_fs |= BP_LL_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= BP_LL_FS_TRUNCATE;
    if (abi >= 4) {
        attr.handled_access_net = BP_LL_NET_BIND_TCP | BP_LL_NET_CONNECT_TCP;
        size = offsetof(struct bp_ll_ruleset_attr, scoped);
    }
    if (abi >= 5)
        attr.handled_access_fs |= BP_LL_FS_IOCTL_DEV;
    if (abi >= 6) {
        attr.scoped = BP_LL_SCOPE_ABSTRACT_UNIX | BP_LL_SCOPE_SIGNAL;
        size = sizeof(attr);
    }
    fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (fd < 0)
        return -errno;
    /* no rule added: every handled access is denied everywhere */
    if (syscall(SYS_landlock_restrict_self, fd, 0) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    return (int)abi;
}

int bp_sbx_confine_server(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];

    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    memset(data, 0, sizeof(data)); /* a root extractor keeps no capability either */
    (void)syscall(SYS_capset, &hdr, data);
    return landlock_restrict();
}

/* Report a fatal signal, then die by it. Async-signal-safe: write, mmap, munmap,
 * sigaction, raise. */
static void fatal_signal(int signo, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    bp_sbx_rec rec = {.a = (uint64_t)signo};
    struct sigaction dfl;

    (void)uc;
    if (signo == SIGSYS && si->si_code == 1 /* SYS_SECCOMP */) {
        rec.kind = BP_SBX_REC_SYSCALL;
        rec.a = (uint64_t)si->si_syscall;
    } else {
        void *p = mmap(NULL, BP_SBX_PROBE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        rec.kind = BP_SBX_REC_SIGNAL;
        if (p == MAP_FAILED)
            rec.b = 1; /* the address space is exhausted: out of memory */
        else
            munmap(p, BP_SBX_PROBE);
        if (saved_errno == ENOMEM)
            rec.b |= 2; /* the last failed call was an allocation */
    }
    if (child_progress_fd >= 0 && unsent_progress.kind != 0) /* where it was, exactly */
        (void)!write(child_progress_fd, &unsent_progress, sizeof(unsent_progress));
    if (child_progress_fd >= 0)
        (void)!write(child_progress_fd, &rec, sizeof(rec));
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(signo, &dfl, NULL);
    raise(signo); /* pending until this handler returns (or re-faults): then fatal */
}

static int install_fatal_handlers(bp_err *err)
{
    static char altstack[BP_SBX_ALTSTACK];
    const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGXCPU};
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    struct sigaction sa;

    if (sigaltstack(&ss, NULL) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "sigaltstack: %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0) {
            bp_err_set(err, BP_ERR_IO, errno, "sigaction(%d): %s", sigs[i], strerror(errno));
            return -1;
        }
    return 0;
}

static int set_limit(int resource, rlim_t soft, rlim_t hard, const char *name, bp_err *err)
{
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};

    if (setrlimit(resource, &rl) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "setrlimit(%s): %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Allow syscall name (skipped when this architecture has none) with up to one argument
 * comparison. */
static int allow(scmp_filter_ctx ctx, const char *name, unsigned n_cmp, struct scmp_arg_cmp cmp)
{
    int nr = seccomp_syscall_resolve_name(name);

    if (nr == __NR_SCMP_ERROR)
        return 0;
    return n_cmp > 0 ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, cmp)
                     : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static scmp_filter_ctx build_filter(pid_t pid, bp_err *err)
{
    /* computing on what the child already holds; nothing that names a file, a socket, a
     * program or another process */
    static const char *const plain[] = {
        "read",
        "readv",
        "pread64",
        "preadv",
        "preadv2",
        "write",
        "writev",
        "lseek",
        "fstat",
        "newfstatat",
        "munmap",
        "mremap",
        "brk",
        "madvise",
        "exit",
        "exit_group",
        "rt_sigreturn",
        "rt_sigaction",
        "rt_sigprocmask",
        "sigaltstack",
        "futex",
        "getpid",
        "getppid",
        "gettid",
        "clock_gettime",
        "clock_getres",
        "gettimeofday",
        "time",
        "getrandom",
        "sched_yield",
        "close",
        "fcntl",
        "getrusage",
        "restart_syscall",
        "uname",
        "sysinfo",
        "sched_getaffinity",
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    int rc = 0;

    if (ctx == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "seccomp_init failed");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]) && rc == 0; i++)
        rc = allow(ctx, plain[i], 0, SCMP_A0(SCMP_CMP_EQ, 0));
    /* memory, never executable: a parser bug cannot become injected code */
    if (rc == 0)
        rc = allow(ctx, "mmap", 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = allow(ctx, "mprotect", 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* signals only to itself (raise, abort) */
    if (rc == 0)
        rc = allow(ctx, "tgkill", 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)pid));
    /* getrlimit (glibc: prlimit64 with no new limit): reading, not raising */
    if (rc == 0)
        rc = allow(ctx, "prlimit64", 1, SCMP_A2(SCMP_CMP_EQ, 0));
    /* refused quietly, not fatally: isatty() on stderr ("not a terminal"), a runtime
     * looking up its own binary's name (ASan's reports do), libxml2 asking for the current
     * directory to resolve a part's relative name (ODF): the call does not happen either
     * way, and the parser carries on or keeps its own reason */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(readlink), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(readlinkat), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(getcwd), 0);
    if (rc != 0) {
        bp_err_set(err, BP_ERR_IO, -rc, "seccomp rule: %s", strerror(-rc));
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

int bp_sbx_filter_prepare(void)
{
    int p[2];
    ssize_t n;
    bp_err err = {0};
    scmp_filter_ctx ctx = build_filter((pid_t)BP_SBX_PID_MARK, &err);

    if (ctx == NULL)
        return -1;
    if (pipe(p) != 0) {
        seccomp_release(ctx);
        return -1;
    }
    n = seccomp_export_bpf(ctx, p[1]) == 0 ? read(p[0], prepared, sizeof(prepared)) : -1;
    close(p[0]);
    close(p[1]);
    seccomp_release(ctx);
    n_prepared = n > 0 && n % (ssize_t)sizeof(prepared[0]) == 0 &&
                         (size_t)n < sizeof(prepared) /* else it may be cut short */
                     ? (size_t)n / sizeof(prepared[0])
                     : 0;
    return n_prepared > 0 ? 0 : -1;
}

/* Load the prepared filter with the caller's pid in place of the mark. */
static int load_prepared(bp_err *err)
{
    struct sock_fprog prog = {.len = (unsigned short)n_prepared, .filter = prepared};
    uint32_t pid = (uint32_t)getpid();

    for (size_t i = 0; i < n_prepared; i++)
        if (BPF_SRC(prepared[i].code) == BPF_K && prepared[i].k == BP_SBX_PID_MARK)
            prepared[i].k = pid; /* the child's own copy of the extractor's memory */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "seccomp filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int bp_sbx_confine_child(uint64_t memory_bytes, uint64_t as_base, unsigned cpu_s, int progress_fd,
                         bp_err *err)
{
    scmp_filter_ctx ctx = NULL;
    int rc;

    child_progress_fd = progress_fd;
    if (install_fatal_handlers(err) != 0)
        return -1;
    if (n_prepared == 0 && (ctx = build_filter(getpid(), err)) == NULL)
        return -1;
    if (set_limit(RLIMIT_AS, (rlim_t)(as_base + memory_bytes), (rlim_t)(as_base + memory_bytes),
                  "RLIMIT_AS", err) != 0 ||
        set_limit(RLIMIT_CPU, cpu_s, (rlim_t)cpu_s + 1, "RLIMIT_CPU", err) != 0 ||
        set_limit(RLIMIT_FSIZE, 0, 0, "RLIMIT_FSIZE", err) != 0 ||
        set_limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE", err) != 0 ||
        set_limit(RLIMIT_NOFILE, 6, 6, "RLIMIT_NOFILE", err) != 0)
        goto out_release;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        goto out_release;
    }
    if (ctx == NULL)
        return load_prepared(err);
    rc = seccomp_load(ctx);
    if (rc != 0) {
        bp_err_set(err, BP_ERR_IO, -rc, "seccomp_load: %s", strerror(-rc));
        goto out_release;
    }
    seccomp_release(ctx); /* frees user-space memory only: the filter stays */
    return 0;

out_release:
    seccomp_release(ctx);
    return -1;
}

void bp_sbx_note_progress(const bp_sbx_rec *rec)
{
    if (rec != NULL)
        unsent_progress = *rec;
    else
        unsent_progress.kind = 0;
}

const char *bp_sbx_syscall_name(long nr, char *buf, size_t cap)
{
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);

    if (name != NULL)
        snprintf(buf, cap, "%s", name);
    else
        snprintf(buf, cap, "#%ld", nr);
    free(name);
    return buf;
}
