/* bp_ctl.h -- the client side of `bullpen ctl`: sign a command, publish it to every master
 * on the control channel, collect their replies, print them.
 *
 *   bullpen ctl -c FILE [--host H] status|pause|resume|scale N|reload|shutdown|cancel ID
 *
 * It SUBSCRIBEs a fresh reply channel (<control_channel>:reply:<nonce>) on one connection,
 * then PUBLISHes the signed message (bp_ctl_msg.h) on another; PUBLISH answers with the
 * number of subscribers, i.e. of masters listening, and the client waits until that many
 * replies arrived or BP_CTL_REPLY_WAIT_MS passed.
 *
 * With --host H only masters on H act. Masters elsewhere should still answer, with
 * "skipped":true (see bp_ctl_msg.h), so the client need not wait out the timeout; the client
 * then requires at least one reply from H and ignores the missing count. Likewise for
 * cancel: masters that do not run the job answer skipped, and the cancel succeeded when one
 * master answered ok without skipping. */
#ifndef BP_CTL_H
#define BP_CTL_H

#include "bp_config.h"

/* Run the command in argv[0] with its argument in argv[1] (argc counts both; main.c passes
 * the positional arguments after the options). host NULL = every master. Prints to stdout
 * (results) and stderr (problems). Returns a sysexits code:
 *   0   every master that had to answer answered ok
 *   1   a master answered not ok (its message is printed), or cancel found no such job
 *   64  usage: unknown command, missing or extra argument (EX_USAGE)
 *   69  Redis unreachable, or no master listening on the control channel (EX_UNAVAILABLE)
 *   75  some masters did not answer within 3 s; says how many (EX_TEMPFAIL)
 *   78  no pool.control_key_file, or TLS/AUTH refused (EX_CONFIG) */
int bp_ctl_run(const bp_config *cfg, const char *host, int argc, char **argv);

#endif /* BP_CTL_H */
