/* badabi_plugin.c -- a plugin built for a future handler ABI: bullpen must refuse it. */
#include "bullpen_handler.h"

static int badabi_handle(void *state, struct bullpen_job *job)
{
    (void)state;
    return job->set_error(job, "must never run");
}

const struct bullpen_plugin bullpen_plugin = {
    .abi_version = BULLPEN_HANDLER_ABI_VERSION + 998,
    .name = "badabi",
    .handle = badabi_handle,
};
