/* example_plugin.c -- an example bullpen handler plugin, built as a shared library by the
 * tests (and a template for plugin authors): it includes only bullpen_handler.h.
 *
 * Settings: greeting (text, default "hello"); fail_init = "true" makes init fail.
 * Job data {"mode": ...}: "fail" fails with a message, "nothing" sets no result, "badjson"
 * returns invalid JSON, "rc" returns 7 without a message; anything else reports progress,
 * logs a line ("warn" also a warning: ABI version 2), bumps a counter in the plugin cache and
 * returns
 * {"greeting", "bytes", "attempt", "previous", "cancelled"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bullpen_handler.h"

struct example_state {
    char greeting[64]; /* from the settings */
};

static int example_init(const struct bullpen_setting *settings, size_t n, void **state, char *err,
                        size_t errlen)
{
    struct example_state *st = calloc(1, sizeof(*st));

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(st->greeting, sizeof(st->greeting), "hello");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(settings[i].key, "greeting") == 0)
            snprintf(st->greeting, sizeof(st->greeting), "%s", settings[i].value);
        if (strcmp(settings[i].key, "fail_init") == 0 && strcmp(settings[i].value, "true") == 0) {
            snprintf(err, errlen, "fail_init is set");
            free(st);
            return -1;
        }
    }
    *state = st;
    return 0;
}

static int has_mode(const struct bullpen_job *job, const char *mode)
{
    char want[64];

    snprintf(want, sizeof(want), "\"mode\":\"%s\"", mode);
    return strstr(job->data, want) != NULL;
}

static int example_handle(void *state, struct bullpen_job *job)
{
    struct example_state *st = state;
    char *prev = NULL, out[256], count[32];
    size_t prev_len = 0;
    long n = 0;

    if (has_mode(job, "fail")) {
        job->set_error(job, "example failure");
        return 1;
    }
    if (has_mode(job, "nothing"))
        return 0;
    if (has_mode(job, "badjson"))
        return job->set_result(job, "{oops", 5);
    if (has_mode(job, "rc"))
        return 7;
    job->progress(job, "50");
    job->log(job, "example ran");
    if (has_mode(job, "warn"))
        job->warn(job, "example warning"); /* ABI version 2 */
    if (job->cache_get(job, "count", &prev, &prev_len) == 1)
        n = strtol(prev, NULL, 10);
    snprintf(count, sizeof(count), "%ld", n + 1);
    job->cache_set(job, "count", count, strlen(count), 60);
    snprintf(out, sizeof(out),
             "{\"greeting\":\"%s\",\"bytes\":%zu,\"attempt\":%d,\"previous\":%s,"
             "\"cancelled\":%d}",
             st->greeting, job->data_len, job->attempt, prev != NULL ? prev : "null",
             job->cancelled(job));
    free(prev);
    return job->set_result(job, out, strlen(out));
}

static void example_fini(void *state)
{
    free(state);
}

const struct bullpen_plugin bullpen_plugin = {
    .abi_version = BULLPEN_HANDLER_ABI_VERSION,
    .name = "example",
    .init = example_init,
    .handle = example_handle,
    .fini = example_fini,
};
