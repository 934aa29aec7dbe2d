/* bp_sandbox.h -- the extraction sandbox: untrusted bytes are parsed in a process that
 * cannot reach Redis, the network, the configuration or the key files.
 *
 * Shape (README "The extraction sandbox"):
 *   worker --(socketpair: requests, kill, status)--> extractor process
 *                                                      (the bullpen binary exec'd again in
 *                                                       an internal mode: a fresh image with
 *                                                       no secret in memory, no Redis socket,
 *                                                       an empty environment, fd 3 only)
 *   extractor --fork per document--> child: rlimits, no_new_privs, Landlock (no file access),
 *                                    seccomp (read/write/mmap... on the fds it was handed)
 *   child --(result pipe, progress pipe)--> worker
 * An extractor may be started with a profile (bp_sandbox_options, its argv[2]) that tells its
 * init what to warm up: bullpen's worker keeps one for PDFs and one for the other formats
 * (bp_sandbox_extract.h), so a document's fork copies only its own parsers' mappings.
 * The worker owns the extractor (bp_sandbox) and enforces the wall-clock limit, the output
 * limit and cancellation (job timeout, bullpen ctl cancel); the extractor reaps each child
 * and reports how it ended (status, CPU time), so a crash, a hang or an exhausted limit
 * fails that one document with a reason, and the worker carries on.
 *
 * The code run in the child is a bp_sandbox_fn from a table the embedding program gives
 * bp_sandbox_server_main(): bullpen's is the document extractor (bp_sandbox_extract.h); the
 * unit tests give hostile functions (crash, spin, allocate, open, connect, exec, flood). */
#ifndef BP_SANDBOX_H
#define BP_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"

#define BP_SANDBOX_ARGV1       "__bullpen_extractor" /* argv[1] of the internal mode */
#define BP_SANDBOX_ARG_MAX     1024 /* bytes of function argument carried by a request */
#define BP_SANDBOX_TEXT_MAX    300  /* bytes of a message from the child (error, format) */
#define BP_SANDBOX_PROFILE_MAX 32   /* bytes of an extractor's profile name, with its NUL */

/* ---- what runs inside the child ---- */

typedef enum bp_sandbox_unit {
    BP_SANDBOX_UNIT_BYTES, /* progress counts input bytes */
    BP_SANDBOX_UNIT_PAGES, /* progress counts pages (slides, sheets) */
} bp_sandbox_unit;

/* The child's view of one task. Everything it may touch is here. */
typedef struct bp_sandbox_task {
    int doc_fd;            /* the document, read-only (pread, mmap) */
    const void *arg;       /* the request's argument bytes */
    size_t arg_len;        /* bytes in arg */
    uint64_t memory_limit; /* bytes the task may allocate (for messages) */
    int out_fd;            /* result pipe: write the encoded output here */
    int progress_fd;       /* progress pipe: use the functions below */
} bp_sandbox_task;

/* Run in the child, confined. Returns 0 (output complete), or calls bp_sandbox_fail() /
 * bp_sandbox_fail_oom(), which do not return. */
typedef int (*bp_sandbox_fn)(const bp_sandbox_task *t);

typedef struct bp_sandbox_fn_entry {
    const char *name; /* for logs and requests: "extract" */
    bp_sandbox_fn fn; /* run per document in the child */
} bp_sandbox_fn_entry;

/* Warm-up run once in the extractor before it confines itself (load what a parser would
 * otherwise open lazily: iconv modules, font configuration). profile is the one the worker
 * started this extractor with (bp_sandbox_options), NULL for none. May be NULL. */
typedef void (*bp_sandbox_init_fn)(const char *profile);

/* Child side: report progress (done of total, total 0 = unknown), say which format the
 * input is ("PDF"), write output (loops over short writes; -1 when the worker stopped
 * reading), or end the task with a deterministic failure of the input (not retried), or
 * with a failure of the host rather than of the input (a library that cannot be loaded:
 * the outcome is BP_SANDBOX_TRANSIENT, so the job keeps its attempts; the text says what
 * to install). */
void bp_sandbox_progress(const bp_sandbox_task *t, uint64_t done, uint64_t total,
                         bp_sandbox_unit unit);
void bp_sandbox_format(const bp_sandbox_task *t, const char *format);
int bp_sandbox_write(const bp_sandbox_task *t, const void *buf, size_t n);
void bp_sandbox_fail(const bp_sandbox_task *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void bp_sandbox_fail_host(const bp_sandbox_task *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void bp_sandbox_fail_oom(const bp_sandbox_task *t) __attribute__((noreturn));

/* The extractor process (argv[1] == BP_SANDBOX_ARGV1, argv[2] its profile if any): serves
 * requests on fd 3 until the worker closes it, then exits the process (_exit: no atexit
 * handler, no leak check, which Landlock would not let read /proc). Returns only the exit
 * code of a wrong start (no channel on fd 3). fns is the table requests index; init gets
 * profile. */
int bp_sandbox_server_main(const bp_sandbox_fn_entry *fns, size_t n_fns, bp_sandbox_init_fn init,
                           const char *profile);

/* Whether a program's argv is the extractor's (argv[1] == BP_SANDBOX_ARGV1, then at most
 * the profile): main() then returns bp_sandbox_server_main(..., *profile). *profile is
 * argv[2], or NULL when there is none. */
bool bp_sandbox_is_extractor(int argc, char **argv, const char **profile);

/* ---- the worker side ---- */

typedef struct bp_sandbox bp_sandbox; /* one extractor process and its channel */

typedef struct bp_sandbox_limits {
    uint64_t memory_bytes; /* RLIMIT_AS growth of the child */
    int cpu_s;             /* RLIMIT_CPU of the child */
    int64_t wall_ms;       /* wall clock, enforced by the worker */
    uint64_t output_bytes; /* most result bytes read */
} bp_sandbox_limits;

/* Called as progress records arrive (done of total in unit). */
typedef void (*bp_sandbox_progress_cb)(void *arg, uint64_t done, uint64_t total,
                                       bp_sandbox_unit unit);

typedef enum bp_sandbox_status {
    BP_SANDBOX_OK,        /* output holds the child's result */
    BP_SANDBOX_FAILED,    /* the input failed deterministically: do not retry */
    BP_SANDBOX_TRANSIENT, /* wall-clock limit, extractor lost: a retry may succeed */
    BP_SANDBOX_CANCELLED, /* *cancel was set: the caller reports its own reason */
} bp_sandbox_status;

typedef struct bp_sandbox_outcome {
    bp_sandbox_status status;
    char *output;       /* malloc'd result bytes (OK only; caller frees) */
    size_t output_len;  /* bytes in output */
    char reason[512];   /* what happened, without the file name: "PDF parser killed by
                         * SIGSEGV on page 12", "exceeded cpu_s = 60 s of CPU" */
    char format[40];    /* format the child named ("PDF"), "" when it named none */
    uint64_t cpu_us;    /* CPU time of the child (user + system) */
    long maxrss_kb;     /* its peak RSS */
    int64_t wall_us;    /* request sent to status read */
    int64_t confine_us; /* fork to confined, as the extractor measured it */
} bp_sandbox_outcome;

typedef struct bp_sandbox_options {
    const char *exe;     /* program to exec; NULL = /proc/self/exe */
    int log_stderr_fd;   /* stderr of the extractor (2 to keep ours, -1 = /dev/null) */
    const char *profile; /* argv[2] of the extractor, for its init (what to warm up); NULL =
                          * none. Printable, at most BP_SANDBOX_PROFILE_MAX - 1 bytes */
} bp_sandbox_options;

/* Make a handle (no process yet: it is started at the first run). Returns NULL out of
 * memory. */
bp_sandbox *bp_sandbox_new(const bp_sandbox_options *o);
void bp_sandbox_free(bp_sandbox *sb); /* stops the extractor; NULL is a no-op */

/* Run function fn of the extractor's table on doc_fd (borrowed) with arg. Fills out (always);
 * returns 0 when the sandbox worked (out->status says how the task ended), or -1 when it
 * could not run the task at all (err says why: cannot start the extractor, cannot fork). */
int bp_sandbox_run(bp_sandbox *sb, unsigned fn, int doc_fd, const void *arg, size_t arg_len,
                   const bp_sandbox_limits *lim, bp_sandbox_progress_cb progress, void *cb_arg,
                   volatile int *cancel, bp_sandbox_outcome *out, bp_err *err);

/* The extractor's pid (0 when none is running), for tests and logs. */
long bp_sandbox_pid(const bp_sandbox *sb);

/* The largest peak RSS (KB) of a parse child of this handle so far, as the extractor read
 * it from wait4() when it reaped the child: the memory one document cost, for benches. */
long bp_sandbox_child_peak_kb(const bp_sandbox *sb);

#endif /* BP_SANDBOX_H */
