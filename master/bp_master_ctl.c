/* bp_master_ctl.c -- the master's side of `bullpen ctl`: verify a signed command from the
 * control channel, act on it, reply on the message's reply channel. */
#include "bp_log.h"
#include "bp_master.h"

void bp_master_on_ctl(bp_master *m, const char *text, size_t len)
{
    (void)text;
    if (m->cfg->pool.control_key == NULL) {
        bp_log_warn("ignored a ctl message (%zu bytes): no pool.control_key_file is set", len);
        return;
    }
    bp_log_warn("ignored a ctl message: not implemented yet");
}
