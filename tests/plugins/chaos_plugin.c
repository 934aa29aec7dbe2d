/* chaos_plugin.c -- a handler plugin that misbehaves on purpose, for tests/chaos: the job
 * name picks the failure. "segv" writes through a NULL pointer (the worker process dies of
 * SIGSEGV mid-job), "spin" loops forever without ever checking cancelled() (only the job
 * timeout and a SIGKILL end it), "abort" calls abort(); any other name echoes its data.
 * It proves that one bad handler costs one worker, never a job and never the pool. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bullpen_handler.h"

static volatile int chaos_sink; /* keeps the spin loop from being optimised away */

static int chaos_handle(void *state, struct bullpen_job *job)
{
    (void)state;
    if (strcmp(job->name, "segv") == 0) {
        volatile int *nowhere = NULL;

        *nowhere = 1;
    } else if (strcmp(job->name, "spin") == 0) {
        for (;;)
            chaos_sink++;
    } else if (strcmp(job->name, "abort") == 0) {
        abort();
    }
    return job->set_result(job, job->data, job->data_len);
}

__attribute__((visibility("default"))) const struct bullpen_plugin bullpen_plugin = {
    .abi_version = 1, /* built for the first ABI on purpose: older plugins must still load */
    .name = "chaos",
    .handle = chaos_handle,
};
