/* bp_handlers.c -- one queue's handler table: routing a job name to its handler.
 *
 * Built by the master before fork (bp_handlers_new), so plugins are loaded and initialised
 * once and every worker inherits them; so are the roots of each document handler's
 * allowed_dirs (O_PATH descriptors, close-on-exec: bp_confine.h), opened once per
 * generation and closed with it. Routing is bp_config_route(): an exact job name
 * wins over "*", whatever their order in the file. The table borrows the queue's config,
 * which must outlive it (a reload builds a new config and a new table). */
#include <stdlib.h>

#include "bp_confine.h"
#include "bp_handler.h"
#include "bp_handlers_impl.h"

struct bp_handlers {
    const bp_queue_config *q; /* borrowed: the queue's config */
    bp_plugin **plugins;      /* one per q->handlers entry; NULL unless type is plugin */
    bp_confine **roots;       /* one per q->handlers entry; NULL unless type is document */
};

int bp_handlers_new(bp_handlers **out, const bp_queue_config *q, bp_err *err)
{
    bp_handlers *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        bp_err_set(err, BP_ERR_IO, 0, "out of memory building the handlers of queue '%s'", q->name);
        return -1;
    }
    h->q = q;
    if (q->n_handlers > 0) {
        h->plugins = calloc(q->n_handlers, sizeof(h->plugins[0]));
        h->roots = calloc(q->n_handlers, sizeof(h->roots[0]));
        if (h->plugins == NULL || h->roots == NULL) {
            bp_err_set(err, BP_ERR_IO, 0, "out of memory building the handlers of queue '%s'",
                       q->name);
            goto out_free;
        }
    }
    for (size_t i = 0; i < q->n_handlers; i++) {
        const bp_handler_config *hc = &q->handlers[i];

        if (hc->type == BP_HANDLER_DOCUMENT &&
            bp_confine_new(&h->roots[i], hc->allowed_dirs, hc->n_allowed_dirs, err) != 0) {
            bp_err_prefix(err, "queue '%s', document handler for job \"%s\" (config line %d)",
                          q->name, hc->job, hc->line);
            goto out_free;
        }
        if (hc->type == BP_HANDLER_PLUGIN && bp_plugin_load(&h->plugins[i], hc, err) != 0)
            goto out_free;
    }
    *out = h;
    return 0;

out_free:
    bp_handlers_free(h);
    return -1;
}

void bp_handlers_free(bp_handlers *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; h->plugins != NULL && i < h->q->n_handlers; i++)
        bp_plugin_unload(h->plugins[i]);
    for (size_t i = 0; h->roots != NULL && i < h->q->n_handlers; i++)
        bp_confine_free(h->roots[i]);
    free(h->plugins);
    free(h->roots);
    free(h);
}

void bp_handlers_run(const bp_handlers *h, bp_job_ctx *ctx, bp_result *res)
{
    const char *name = ctx->job_name != NULL ? ctx->job_name : "";
    const bp_handler_config *hc = bp_config_route(h->q, name);

    res->value = res->error = NULL; /* overwritten, not freed: the caller passes a fresh one */
    res->len = 0;
    if (hc == NULL) {
        bp_result_error(res, "unknown job name \"%s\"", name);
        return;
    }
    switch (hc->type) {
    case BP_HANDLER_DOCUMENT:
        bp_document_run(hc, h->roots[hc - h->q->handlers], ctx, res);
        break;
    case BP_HANDLER_EXEC:
        bp_exec_run(hc, ctx, res);
        break;
    case BP_HANDLER_PLUGIN:
        bp_plugin_run(h->plugins[hc - h->q->handlers], ctx, res);
        break;
    case BP_HANDLER_ECHO:
        bp_diag_echo(ctx, res);
        break;
    case BP_HANDLER_SLEEP:
        bp_diag_sleep(ctx, res);
        break;
    case BP_HANDLER_FAIL:
        bp_diag_fail(ctx, res);
        break;
    }
    if (res->value == NULL && res->error == NULL)
        bp_result_value(res, "null", 4);
}
