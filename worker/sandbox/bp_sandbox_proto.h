/* bp_sandbox_proto.h -- the messages of the extraction sandbox, private to worker/sandbox/.
 *
 * Worker <-> extractor: one SOCK_SEQPACKET socket pair, fixed-size messages (a datagram is
 * one message, so no framing). A request carries three descriptors (SCM_RIGHTS): the
 * document, the write end of the result pipe and the write end of the progress pipe.
 * Child -> worker: progress records on the progress pipe, each a fixed header followed by
 * len bytes of text; the worker trusts none of it beyond its own bounds checks. */
#ifndef BP_SANDBOX_PROTO_H
#define BP_SANDBOX_PROTO_H

#include <stdint.h>

#include "bp_sandbox.h"

#define BP_SBX_MAGIC      0x62707378u /* "bpsx" */
#define BP_SBX_CHANNEL_FD 3           /* the extractor's end of the socket pair */

enum bp_sbx_op {
    BP_SBX_HELLO = 1, /* extractor -> worker, once: it is up and confined this much */
    BP_SBX_RUN,       /* worker -> extractor: fork a child for this task (3 fds attached) */
    BP_SBX_STARTED,   /* extractor -> worker: the child's pid */
    BP_SBX_KILL,      /* worker -> extractor: SIGKILL the current child */
    BP_SBX_DONE,      /* extractor -> worker: the child ended (wait status, rusage) */
};

typedef struct bp_sbx_msg {
    uint32_t magic;        /* BP_SBX_MAGIC */
    uint32_t op;           /* enum bp_sbx_op */
    uint32_t fn;           /* RUN: index in the extractor's table */
    int32_t status;        /* DONE: wait status; HELLO: Landlock ABI (0 = none, < 0 errno) */
    uint64_t memory_bytes; /* RUN: RLIMIT_AS growth */
    uint32_t cpu_s;        /* RUN: RLIMIT_CPU */
    int32_t pid;           /* STARTED, DONE: the child; HELLO: the extractor */
    uint64_t cpu_us;       /* DONE: user + system CPU of the child */
    int64_t maxrss_kb;     /* DONE: its peak RSS */
    int64_t confine_us;    /* DONE: fork to confined (as the child reported it) */
    uint32_t arg_len;      /* RUN: bytes used in arg */
    char arg[BP_SANDBOX_ARG_MAX];
} bp_sbx_msg;

/* Child -> worker records on the progress pipe. */
enum bp_sbx_rec_kind {
    BP_SBX_REC_PROGRESS = 1, /* a = done, b = total, len 0; unit in flags */
    BP_SBX_REC_FORMAT,       /* text: the format name ("PDF") */
    BP_SBX_REC_ERROR,        /* text: the task failed; flags BP_SBX_ERROR_HOST when the host,
                              * not the input, lacks something (not deterministic) */
    BP_SBX_REC_OOM,          /* the task ran out of memory (a = limit) */
    BP_SBX_REC_SIGNAL,       /* a fatal signal: a = signo, b = 1 when the address space was
                              * exhausted at that moment (out of memory) */
    BP_SBX_REC_SYSCALL,      /* seccomp refused system call number a (then SIGSYS) */
    BP_SBX_REC_CONFINED,     /* a = microseconds from fork to confined */
};

typedef struct bp_sbx_rec {
    uint8_t kind;  /* enum bp_sbx_rec_kind */
    uint8_t flags; /* PROGRESS: bp_sandbox_unit */
    uint16_t len;  /* text bytes that follow (<= BP_SANDBOX_TEXT_MAX) */
    uint32_t pad;  /* zero */
    uint64_t a, b; /* per kind */
} bp_sbx_rec;

#define BP_SBX_ERROR_HOST 1 /* ERROR flags: a retry after the host is fixed may succeed */

/* Exit codes of the child beside 0 (done) and death by a signal. */
#define BP_SBX_PROGRESS_US                                        \
    50000 /* progress records at most every 50 ms: each wakes the \
           * worker; the worker records Bull progress far less often */

#define BP_SBX_EXIT_FAILED  3 /* an ERROR record says why */
#define BP_SBX_EXIT_OOM     4 /* out of memory (an OOM record) */
#define BP_SBX_EXIT_CONFINE 5 /* the confinement could not be applied: nothing ran */

/* Confine the calling process (the child, after fork): rlimits, no_new_privs, seccomp. fds
 * 0..2 and 3..5 (document, result, progress) are the only ones left open. Returns 0, or -1
 * with err set (the child then exits with BP_SBX_EXIT_CONFINE). */
int bp_sbx_confine_child(uint64_t memory_bytes, uint64_t as_base, unsigned cpu_s, int progress_fd,
                         bp_err *err);

/* Compile the children's seccomp filter once, in the extractor (before it confines
 * itself). Returns 0, or -1: each child then builds its own (slower, same filter). */
int bp_sbx_filter_prepare(void);

/* Restrict the extractor once at start: Landlock with no rule (no file access by path; no
 * TCP; no signals or abstract sockets outside), no_new_privs, no capabilities, not dumpable.
 * Returns the Landlock ABI used (> 0), 0 when the kernel has none, or -errno. */
int bp_sbx_confine_server(void);

/* The child's newest progress that was not sent (NULL: all sent): a fatal-signal handler
 * sends it first, so a crash names the exact page. */
void bp_sbx_note_progress(const bp_sbx_rec *rec);

/* Name of system call nr on this architecture ("openat"), or "#nr" in buf. */
const char *bp_sbx_syscall_name(long nr, char *buf, size_t cap);

#endif /* BP_SANDBOX_PROTO_H */
