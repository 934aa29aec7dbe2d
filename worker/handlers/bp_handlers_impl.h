/* bp_handlers_impl.h -- the built-in handlers behind bp_handlers_run() (bp_handler.h).
 *
 * Private to worker/handlers/: each run function reads its settings from the routed
 * bp_handler_config, works through the bp_job_ctx and always fills res. */
#ifndef BP_HANDLERS_IMPL_H
#define BP_HANDLERS_IMPL_H

#include "bp_handler.h"

struct bp_confine;

/* bp_document.c: extract, chunk, cache in Redis (DESIGN.md "Handlers"). A {"path"} job's
 * file is opened only beneath roots (hc->allowed_dirs, opened by bp_handlers_new(); NULL:
 * path jobs are refused). */
void bp_document_run(const bp_handler_config *hc, const struct bp_confine *roots, bp_job_ctx *ctx,
                     bp_result *res);

/* bp_exec.c: run hc->argv with the job data on stdin. */
void bp_exec_run(const bp_handler_config *hc, bp_job_ctx *ctx, bp_result *res);

/* bp_diag.c: echo, sleep and fail. */
void bp_diag_echo(bp_job_ctx *ctx, bp_result *res);
void bp_diag_sleep(bp_job_ctx *ctx, bp_result *res);
void bp_diag_fail(bp_job_ctx *ctx, bp_result *res);

/* bp_plugin.c: one loaded plugin (dlopen handle, its bullpen_plugin and init state). */
typedef struct bp_plugin bp_plugin;

/* Load hc->path and call the plugin's init with hc->settings (master, before fork).
 * Returns 0, or -1 with err (kind BP_ERR_CONFIG) naming the path and config line. */
int bp_plugin_load(bp_plugin **out, const bp_handler_config *hc, bp_err *err);
void bp_plugin_unload(bp_plugin *p); /* calls fini, dlclose; NULL is a no-op */
void bp_plugin_run(const bp_plugin *p, bp_job_ctx *ctx, bp_result *res);

#endif /* BP_HANDLERS_IMPL_H */
