/* bp_proctitle.h -- what `ps` and `top` show for each bullpen process.
 *
 *   bullpen: master [2 queues, 8 workers]
 *   bullpen: worker 2 [document-processing] busy job 812 3.2s
 *
 * Linux shows a process's command line from the memory its argv strings were given in. That
 * block (argv strings, then, contiguous with them, the environment strings) is reused for
 * the title, nginx/postgres style: bp_proctitle_init() copies the environment strings to
 * the heap and points environ at the copies, so getenv() keeps working and the whole block
 * can hold the title. Titles longer than the block are cut; nothing is ever written past the
 * end of the original block (safe under ASan).
 *
 * Call bp_proctitle_init() once, first thing in main(). It also copies the argument strings
 * to the heap and points main's argv[i] at the copies, so argv stays valid for option
 * parsing, for pointers kept from it and for the USR2 re-exec, while the original block
 * becomes the title. A forked worker just calls bp_proctitle_set(): the block is per process
 * after fork. Not thread-safe: call from the main thread. */
#ifndef BP_PROCTITLE_H
#define BP_PROCTITLE_H

#include <stddef.h>

/* Take over the argv block of main(argc, argv). Returns 0, or -1 when the environment cannot
 * be copied (out of memory); then bp_proctitle_set() only sets the short name. Calling it
 * twice is a no-op. */
int bp_proctitle_init(int argc, char **argv);

/* Set the title from a printf format (cut to the available space, see
 * bp_proctitle_capacity()). Does nothing to the command line before bp_proctitle_init(). */
void bp_proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Set the kernel's short name of the calling thread (prctl PR_SET_NAME, at most 15 bytes,
 * longer names are cut): what `top`, `ps -o comm` and `killall` see. Suggested: leave the
 * master as "bullpen" (so `killall -HUP bullpen` reaches it), name workers "bullpen-w<N>". */
void bp_proctitle_set_name(const char *name);

/* Bytes available for the title, including its terminating NUL (0 before init). */
size_t bp_proctitle_capacity(void);

#endif /* BP_PROCTITLE_H */
