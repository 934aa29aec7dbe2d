/* bp_plugin.c -- loading handler plugins (worker/bullpen_handler.h) and running their jobs.
 *
 * The master loads each plugin before fork: dlopen(RTLD_NOW | RTLD_LOCAL) so a missing
 * symbol fails at start and two plugins cannot clash, dlsym("bullpen_plugin"), the ABI
 * version check, then init. Every failure is one BP_ERR_CONFIG line naming the file, the
 * config line and what to do, because the operator can only fix it in the config or by
 * rebuilding the plugin. Workers inherit the loaded library and its state.
 *
 * A job is handed over as a struct bullpen_job whose function members call back into the
 * bp_job_ctx; bullpen_private points at the run's own record, so no global is needed. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bp_handlers_impl.h"
#include "bp_log.h"
#include "bullpen_handler.h"

#define BP_PLUGIN_SYMBOL "bullpen_plugin"

struct bp_plugin {
    void *dl;                         /* dlopen handle */
    const struct bullpen_plugin *api; /* the plugin's exported object */
    void *state;                      /* what its init stored */
    const bp_handler_config *hc;      /* borrowed: path and line for messages */
    struct bullpen_setting *settings; /* hc->settings as the ABI's structs */
};

/* One handle() call: the job the plugin sees and where its outcome goes. */
typedef struct plugin_run {
    const bp_plugin *p; /* the plugin */
    bp_job_ctx *ctx;    /* the job */
    bp_result *res;     /* its outcome */
} plugin_run;

int bp_plugin_load(bp_plugin **out, const bp_handler_config *hc, bp_err *err)
{
    bp_plugin *p = calloc(1, sizeof(*p));
    char ierr[256] = "";

    if (p == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "out of memory loading plugin '%s'", hc->path);
        return -1;
    }
    p->hc = hc;
    dlerror();
    p->dl = dlopen(hc->path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "cannot load plugin '%s' (handler for job \"%s\", config line %d): %s; check "
                   "the path and that the library was built for this system",
                   hc->path, hc->job, hc->line, dlerror());
        goto out_free;
    }
    p->api = dlsym(p->dl, BP_PLUGIN_SYMBOL);
    if (p->api == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "plugin '%s' (config line %d) does not export '" BP_PLUGIN_SYMBOL
                   "'; define 'const struct bullpen_plugin bullpen_plugin' as shown in "
                   "bullpen_handler.h and rebuild it",
                   hc->path, hc->line);
        goto out_close;
    }
    if (p->api->abi_version < BULLPEN_HANDLER_ABI_MIN ||
        p->api->abi_version > BULLPEN_HANDLER_ABI_VERSION) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "plugin '%s' (config line %d) was built for handler ABI version %d, this "
                   "bullpen loads versions %d to %d; rebuild the plugin against this bullpen's "
                   "bullpen_handler.h",
                   hc->path, hc->line, p->api->abi_version, BULLPEN_HANDLER_ABI_MIN,
                   BULLPEN_HANDLER_ABI_VERSION);
        goto out_close;
    }
    if (p->api->handle == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "plugin '%s' (config line %d) has no handle function; set "
                   "bullpen_plugin.handle and rebuild it",
                   hc->path, hc->line);
        goto out_close;
    }
    if (hc->n_settings > 0) {
        p->settings = calloc(hc->n_settings, sizeof(p->settings[0]));
        if (p->settings == NULL) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "out of memory loading plugin '%s'", hc->path);
            goto out_close;
        }
        for (size_t i = 0; i < hc->n_settings; i++) {
            p->settings[i].key = hc->settings[i].key;
            p->settings[i].value = hc->settings[i].value;
        }
    }
    if (p->api->init != NULL &&
        p->api->init(p->settings, hc->n_settings, &p->state, ierr, sizeof(ierr)) != 0) {
        ierr[sizeof(ierr) - 1] = '\0';
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "plugin '%s' (config line %d) failed to initialise: %s; check its "
                   "settings",
                   hc->path, hc->line, ierr[0] != '\0' ? ierr : "no reason given");
        goto out_close;
    }
    *out = p;
    return 0;

out_close:
    dlclose(p->dl);
out_free:
    free(p->settings);
    free(p);
    return -1;
}

void bp_plugin_unload(bp_plugin *p)
{
    if (p == NULL)
        return;
    if (p->api->fini != NULL)
        p->api->fini(p->state);
    dlclose(p->dl);
    free(p->settings);
    free(p);
}

static plugin_run *run_of(struct bullpen_job *job)
{
    return job->bullpen_private;
}

static int job_progress(struct bullpen_job *job, const char *json)
{
    bp_job_ctx *ctx = run_of(job)->ctx;

    return ctx->progress != NULL ? ctx->progress(ctx->worker, json) : -1;
}

static int job_log(struct bullpen_job *job, const char *line)
{
    bp_job_ctx *ctx = run_of(job)->ctx;

    return ctx->log != NULL ? ctx->log(ctx->worker, line) : -1;
}

static int job_warn(struct bullpen_job *job, const char *line)
{
    bp_job_ctx *ctx = run_of(job)->ctx;

    bp_job_warn(ctx, "%s", line != NULL ? line : "");
    return 0;
}

/* <prefix>:<queue>:cache:<key>, malloc'd (NULL out of memory). */
static char *cache_key(const bp_job_ctx *ctx, const char *key)
{
    char *k = NULL;

    if (asprintf(&k, "%s:%s:cache:%s", ctx->prefix, ctx->queue, key) < 0)
        return NULL;
    return k;
}

static int job_cache_get(struct bullpen_job *job, const char *key, char **value, size_t *len)
{
    bp_job_ctx *ctx = run_of(job)->ctx;
    char *k = cache_key(ctx, key);
    bp_err err = {0};
    redisReply *r;
    int rc = -1;

    if (k == NULL || ctx->command == NULL)
        goto out_free;
    const char *argv[2] = {"GET", k};
    size_t argvlen[2] = {3, strlen(k)};
    r = ctx->command(ctx->worker, 2, argv, argvlen, &err);
    if (r == NULL) {
        bp_log_warn("job %s: plugin cache_get '%s': %s", ctx->job_id, k, err.msg);
        goto out_free;
    }
    if (r->type == REDIS_REPLY_STRING) {
        char *v = malloc((size_t)r->len + 1);
        if (v != NULL) {
            memcpy(v, r->str, (size_t)r->len);
            v[r->len] = '\0';
            *value = v;
            *len = (size_t)r->len;
            rc = 1;
        }
    } else {
        rc = r->type == REDIS_REPLY_NIL ? 0 : -1;
    }
    freeReplyObject(r);

out_free:
    free(k);
    return rc;
}

static int job_cache_set(struct bullpen_job *job, const char *key, const char *value, size_t len,
                         int ttl_s)
{
    bp_job_ctx *ctx = run_of(job)->ctx;
    char *k = cache_key(ctx, key);
    char ttl[24];
    bp_err err = {0};
    redisReply *r;
    int rc = -1;

    if (k == NULL || ctx->command == NULL)
        goto out_free;
    snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    const char *argv[5] = {"SET", k, value, "EX", ttl};
    size_t argvlen[5] = {3, strlen(k), len, 2, strlen(ttl)};
    r = ctx->command(ctx->worker, ttl_s > 0 ? 5 : 3, argv, argvlen, &err);
    if (r == NULL) {
        bp_log_warn("job %s: plugin cache_set '%s': %s", ctx->job_id, k, err.msg);
        goto out_free;
    }
    freeReplyObject(r);
    rc = 0;

out_free:
    free(k);
    return rc;
}

static int job_cancelled(struct bullpen_job *job)
{
    bp_job_ctx *ctx = run_of(job)->ctx;

    return ctx->cancel != NULL && *ctx->cancel;
}

static int job_set_result(struct bullpen_job *job, const char *json, size_t len)
{
    plugin_run *run = run_of(job);
    json_error_t jerr;
    json_t *v =
        json != NULL ? json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr) : NULL;

    if (v == NULL) {
        bp_result_error(run->res, "plugin '%s' returned a result that is not valid JSON: %s",
                        run->p->api->name != NULL ? run->p->api->name : run->p->hc->path,
                        json != NULL ? jerr.text : "NULL");
        return -1;
    }
    json_decref(v);
    bp_result_value(run->res, json, len);
    return 0;
}

static int job_set_error(struct bullpen_job *job, const char *message)
{
    bp_result_error(run_of(job)->res, "%s",
                    message != NULL && message[0] != '\0' ? message : "plugin failed");
    return 0;
}

void bp_plugin_run(const bp_plugin *p, bp_job_ctx *ctx, bp_result *res)
{
    plugin_run run = {.p = p, .ctx = ctx, .res = res};
    struct bullpen_job job = {
        .id = ctx->job_id,
        .name = ctx->job_name,
        .queue = ctx->queue,
        .data = ctx->data,
        .data_len = ctx->data_len,
        .attempt = ctx->attempt,
        .progress = job_progress,
        .log = job_log,
        .cache_get = job_cache_get,
        .cache_set = job_cache_set,
        .cancelled = job_cancelled,
        .set_result = job_set_result,
        .set_error = job_set_error,
        .bullpen_private = &run,
        .warn = job_warn, /* version 2: a version 1 plugin never reads it */
    };
    int rc = p->api->handle(p->state, &job);

    if (rc != 0 && res->error == NULL)
        bp_result_error(res, "plugin '%s' failed (handle returned %d) without a message",
                        p->api->name != NULL ? p->api->name : p->hc->path, rc);
    if (res->value == NULL && res->error == NULL)
        bp_result_value(res, "null", 4);
}
