/* bp_config_query.c -- read-only questions asked of a loaded bp_config: which queue, which
 * handler for a job name, how many workers. */
#include <string.h>

#include "bp_config.h"

const bp_queue_config *bp_config_queue(const bp_config *cfg, const char *name)
{
    if (cfg->n_queues == 0)
        return NULL;
    if (name == NULL)
        return &cfg->queues[0];
    for (size_t i = 0; i < cfg->n_queues; i++) {
        if (strcmp(cfg->queues[i].name, name) == 0)
            return &cfg->queues[i];
    }
    return NULL;
}

const bp_handler_config *bp_config_route(const bp_queue_config *q, const char *job_name)
{
    const bp_handler_config *wildcard = NULL;

    for (size_t i = 0; i < q->n_handlers; i++) {
        const bp_handler_config *h = &q->handlers[i];
        if (strcmp(h->job, job_name) == 0)
            return h; /* an exact name wins over "*", whatever the order */
        if (wildcard == NULL && strcmp(h->job, "*") == 0)
            wildcard = h;
    }
    return wildcard;
}

const char *bp_handler_type_name(bp_handler_type t)
{
    switch (t) {
    case BP_HANDLER_DOCUMENT:
        return "document";
    case BP_HANDLER_EXEC:
        return "exec";
    case BP_HANDLER_PLUGIN:
        return "plugin";
    case BP_HANDLER_ECHO:
        return "echo";
    case BP_HANDLER_SLEEP:
        return "sleep";
    case BP_HANDLER_FAIL:
        return "fail";
    }
    return "?";
}

int bp_config_total_workers(const bp_config *cfg)
{
    int n = 0;

    for (size_t i = 0; i < cfg->n_queues; i++)
        n += cfg->queues[i].workers;
    return n;
}
