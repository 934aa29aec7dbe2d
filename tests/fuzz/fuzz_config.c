/* fuzz_config.c -- libFuzzer target for the configuration loader: the input is a whole
 * bullpen.conf, written to a temporary file and given to bp_config_load() (libconfig parse,
 * key table, types and ranges, URL, defaults, secrets). A loaded config is also printed
 * (redaction path) and freed; a refused one must carry a message.
 *
 * Inputs naming @include are skipped: libconfig would read any file the input names
 * (/dev/zero never ends), which says nothing about bullpen's own code. The environment
 * overrides are cleared once so the file alone decides. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char conf_path[64]; /* the temporary file every input is written to */
static FILE *devnull;      /* bp_config_print's output */

static void fuzz_config_cleanup(void)
{
    unlink(conf_path);
}

static int fuzz_config_init(void)
{
    int fd;

    unsetenv("BULLPEN_REDIS_URL");
    unsetenv("BULLPEN_REDIS_PASSWORD");
    snprintf(conf_path, sizeof conf_path, "/tmp/bp_fuzz_config.XXXXXX");
    fd = mkstemp(conf_path);
    if (fd < 0)
        return -1;
    close(fd);
    atexit(fuzz_config_cleanup);
    devnull = fopen("/dev/null", "w");
    return devnull != NULL ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    bp_config *cfg = NULL;
    bp_err err;
    FILE *f;

    if (!ready) {
        if (fuzz_config_init() != 0)
            abort();
        ready = 1;
    }
    if (memmem(data, size, "@include", 8) != NULL)
        return 0;
    f = fopen(conf_path, "w");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    memset(&err, 0, sizeof err);
    if (bp_config_load(&cfg, conf_path, &err) == 0) {
        bp_config_print(cfg, devnull);
        for (size_t q = 0; q < cfg->n_queues; q++)
            (void)bp_config_route(&cfg->queues[q], "echo");
        bp_config_free(cfg);
    } else if (err.msg[0] == '\0') {
        abort(); /* every refusal says why */
    }
    return 0;
}
