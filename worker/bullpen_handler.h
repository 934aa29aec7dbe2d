/* bullpen_handler.h -- the public C ABI for bullpen handler plugins.
 *
 * A plugin is a shared library that includes only this header and exports one object:
 *
 *     #include <bullpen_handler.h>
 *
 *     static int my_handle(void *state, struct bullpen_job *job)
 *     {
 *         job->progress(job, "50");
 *         return job->set_result(job, "{\"ok\":true}", 11);
 *     }
 *
 *     const struct bullpen_plugin bullpen_plugin = {
 *         .abi_version = BULLPEN_HANDLER_ABI_VERSION,
 *         .name = "my-plugin",
 *         .handle = my_handle,
 *     };
 *
 * and is configured as a handler: { job = "ocr"; type = "plugin"; path = "/usr/lib/...so";
 * settings = { lang = "eng"; }; }. Build with: cc -shared -fPIC -o my.so my.c
 *
 * Life cycle: the bullpen master dlopen()s the library (RTLD_NOW | RTLD_LOCAL) and calls
 * init once, before it forks its workers; every worker process inherits the state and
 * calls handle for each job, one job at a time per process (no locking needed inside one
 * process; state written after fork is per worker). fini runs when the master or a worker
 * frees its handler table (shutdown, reload). On a reload (SIGHUP) the master calls init
 * for the new configuration before fini of the old one, and dlopen() hands back the same
 * library: keep state in *state, not in globals.
 *
 * Threads: handle runs on the worker's main thread. Do not keep job pointers after
 * handle returns. All strings are NUL-terminated UTF-8 unless a length is given.
 *
 * Compatibility: new members are only ever added at the end of a struct, each time with a
 * new version number, so bullpen loads a plugin built for its own
 * BULLPEN_HANDLER_ABI_VERSION or any older one down to BULLPEN_HANDLER_ABI_MIN (a plugin
 * never looks at members added after the version it was built for). It refuses a plugin
 * built for a newer version, or an older one than BULLPEN_HANDLER_ABI_MIN, naming the
 * file: rebuild the plugin against the header of the bullpen that loads it.
 *
 * Versions: 1 the first; 2 adds bullpen_job.warn. */
#ifndef BULLPEN_HANDLER_H
#define BULLPEN_HANDLER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BULLPEN_HANDLER_ABI_VERSION 2 /* what this header describes */
#define BULLPEN_HANDLER_ABI_MIN     1 /* the oldest version this bullpen still loads */

/* One key of the handler's "settings" group in the config, scalars given as text. */
struct bullpen_setting {
    const char *key;   /* setting name */
    const char *value; /* its value as text ("true", "42", "eng") */
};

/* One job, valid for the duration of one handle call. The function members are provided
 * by bullpen; pass the job itself as their first argument. */
struct bullpen_job {
    const char *id;    /* Bull job id */
    const char *name;  /* job name */
    const char *queue; /* queue name */
    const char *data;  /* job data: JSON text as stored by Bull */
    size_t data_len;   /* bytes in data */
    int attempt;       /* 1 for the first run, 2 for the first retry, ... */

    /* Set the job's progress (JSON text: a number or an object) and publish the progress
     * event. Returns 0, or -1 when Redis could not be reached. */
    int (*progress)(struct bullpen_job *job, const char *json);
    /* Append a line to the job's log (Bull's job.log(): Bull's getJobLogs() and bull-board's
     * Logs tab show it). The queue's log_max_lines newest lines are kept and a line longer
     * than log_max_line_bytes is cut. Returns 0 or -1. */
    int (*log)(struct bullpen_job *job, const char *line);
    /* Read key from the queue's plugin cache (<prefix>:<queue>:cache:<key>). Returns 1
     * and stores a malloc'd NUL-terminated copy in *value (free() it) and its length in
     * *len; 0 when the key does not exist; -1 on a Redis error. */
    int (*cache_get)(struct bullpen_job *job, const char *key, char **value, size_t *len);
    /* Store len bytes under key, expiring after ttl_s seconds (0: never). Returns 0 or -1. */
    int (*cache_set)(struct bullpen_job *job, const char *key, const char *value, size_t len,
                     int ttl_s);
    /* Non-zero when the job must stop (timeout, bullpen ctl cancel, shutdown): return
     * soon, the result is then discarded. */
    int (*cancelled)(struct bullpen_job *job);
    /* Set the return value (JSON text, len bytes; checked). Returns 0, or -1 when it is
     * not valid JSON (the job then fails saying so). */
    int (*set_result)(struct bullpen_job *job, const char *json, size_t len);
    /* Fail the job with message (Bull's failedReason). Returns 0. */
    int (*set_error)(struct bullpen_job *job, const char *message);

    void *bullpen_private; /* bullpen's own; do not touch */

    /* ---- ABI version 2 ---- */

    /* A warning about this job: written to bullpen's log at warn level (with the job id)
     * and appended to the job's log like log(). Returns 0 or -1. */
    int (*warn)(struct bullpen_job *job, const char *line);
};

/* What the plugin exports under the symbol name "bullpen_plugin". */
struct bullpen_plugin {
    int abi_version;  /* BULLPEN_HANDLER_ABI_VERSION at build time */
    const char *name; /* shown in logs */
    /* Optional. Called once in the master before fork with the handler's settings. Return
     * 0 and store any state in *state, or non-zero with a message in err (errlen bytes):
     * bullpen then refuses to start, printing it. settings stay valid until fini. */
    int (*init)(const struct bullpen_setting *settings, size_t n_settings, void **state, char *err,
                size_t errlen);
    /* Required. Run one job: call set_result or set_error (neither: the result is null).
     * A non-zero return without set_error fails the job with a generic message. */
    int (*handle)(void *state, struct bullpen_job *job);
    /* Optional. Release what init made. */
    void (*fini)(void *state);
};

/* The symbol every plugin defines (exported even under -fvisibility=hidden). */
extern __attribute__((visibility("default"))) const struct bullpen_plugin bullpen_plugin;

#ifdef __cplusplus
}
#endif

#endif /* BULLPEN_HANDLER_H */
