/* fuzz_ctl_msg.c -- libFuzzer target for bullpen ctl messages as a master receives them:
 * anyone who can PUBLISH on the control channel can send any bytes, so
 * bp_ctl_msg_verify() (JSON, fields, freshness, nonce, HMAC) must refuse garbage with a
 * message and never crash. The input is also used as the argument of a real command: when
 * bp_ctl_msg_init() accepts it, the message bp_ctl_msg_sign() makes (or refuses to make,
 * saying why) must verify and decode to the same command and argument. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_ctl_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_key[] = "fuzz-control-key-0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bp_ctl_nonce_cache cache;
    static int ready;
    char *text = malloc(size + 1);
    bp_ctl_msg m;
    bp_err err;

    if (text == NULL)
        return 0;
    if (!ready) {
        bp_ctl_nonce_cache_init(&cache);
        ready = 1;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&err, 0, sizeof err);
    if (bp_ctl_msg_verify(fuzz_key, sizeof fuzz_key - 1, text, 1700000000000, &cache, &m, &err) ==
        BP_CTL_ACCEPTED) {
        (void)bp_ctl_msg_for_host(&m, "fuzzhost");
    } else if (err.msg[0] == '\0') {
        abort();
    }
    /* the same bytes as the argument of a real command: signed, it must verify */
    if (size > 0 && memchr(text, '\0', size) == NULL &&
        bp_ctl_msg_init(&m, (bp_ctl_cmd)(data[0] % 7), text + 1, NULL, "bullpen:control",
                        1700000000000, &err) == 0) {
        bp_ctl_nonce_cache fresh;
        bp_ctl_msg back;
        char *signed_text;

        memset(&err, 0, sizeof err);
        signed_text = bp_ctl_msg_sign(fuzz_key, sizeof fuzz_key - 1, &m, &err);

        bp_ctl_nonce_cache_init(&fresh);
        if (signed_text == NULL) {
            if (err.msg[0] == '\0')
                abort(); /* refusing to sign (e.g. an arg that is not UTF-8) must say why */
        } else if (bp_ctl_msg_verify(fuzz_key, sizeof fuzz_key - 1, signed_text, 1700000000500,
                                     &fresh, &back, &err) != BP_CTL_ACCEPTED ||
                   back.cmd != m.cmd || strcmp(back.arg, m.arg) != 0) {
            abort();
        }
        free(signed_text);
    }
    free(text);
    return 0;
}
