/* fuzz_url.c -- libFuzzer target for the Redis URL parser, bp_url_parse(): redis://,
 * rediss:// and unix:// with user, password (percent-encoded), IPv6 literals, port and db.
 * Beyond "no crash": a parsed URL has a transport-consistent host or socket path, a port in
 * 1..65535, a non-negative db, and a redacted form that shows *** instead of the password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bp_redis_config rc;
    bp_err err;
    char *url = malloc(size + 1);

    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    memset(&rc, 0, sizeof rc);
    memset(&err, 0, sizeof err);
    if (bp_url_parse(url, &rc, &err) == 0) {
        if (rc.transport == BP_TRANSPORT_UNIX) {
            if (rc.unix_path == NULL)
                abort();
        } else if (rc.host == NULL || rc.port < 1 || rc.port > 65535) {
            abort();
        }
        if (rc.db < 0)
            abort();
        /* the text meant for logs shows the password as *** (the path may still hold any
         * text, so this checks the marker, not the absence of the password's bytes) */
        if (rc.password != NULL && rc.password[0] != '\0' &&
            (rc.url_redacted == NULL || strstr(rc.url_redacted, ":***@") == NULL))
            abort();
        bp_url_free(&rc);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    free(url);
    return 0;
}
