/* bp_signals.h -- the master's signal handling: handlers only set flags and write one byte
 * to a non-blocking self-pipe; the master loop poll()s the pipe and acts on the flags. */
#ifndef BP_SIGNALS_H
#define BP_SIGNALS_H

#include <signal.h>

/* The pending flags, one per action. Read and cleared by the master loop only. */
typedef struct bp_signal_flags {
    volatile sig_atomic_t shutdown_graceful; /* TERM */
    volatile sig_atomic_t shutdown_fast;     /* INT, QUIT */
    volatile sig_atomic_t reload;            /* HUP */
    volatile sig_atomic_t child;             /* CHLD */
    volatile sig_atomic_t more;              /* TTIN: one worker more */
    volatile sig_atomic_t fewer;             /* TTOU: one worker fewer */
    volatile sig_atomic_t quiet;             /* TSTP: stop pulling */
    volatile sig_atomic_t resume;            /* CONT: pull again */
    volatile sig_atomic_t reopen;            /* USR1: reopen logs */
    volatile sig_atomic_t upgrade;           /* USR2: re-exec the binary */
} bp_signal_flags;

extern bp_signal_flags bp_signals_pending;

/* Install the master's handlers and create the self-pipe. Returns its read end, or -1. */
int bp_signals_install_master(void);

/* Drain the self-pipe after poll() said it is readable. */
void bp_signals_drain(void);

/* In a child after fork: default dispositions, close the self-pipe. */
void bp_signals_reset_child(void);

/* Block every signal, saving the old mask (around fork()). */
void bp_signals_block(sigset_t *old);
void bp_signals_restore(const sigset_t *old);

#endif /* BP_SIGNALS_H */
