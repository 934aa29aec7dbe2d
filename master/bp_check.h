/* bp_check.h -- `bullpen check`: the preflight, in the spirit of `nginx -t`.
 *
 * Prints the effective configuration (secrets redacted), then proves that a pool started
 * with it would work: TLS context, a real TLS handshake with verification, AUTH, the
 * server's role and eviction policy, SCRIPT LOAD of every embedded script, a latency
 * sample and the connection budget. */
#ifndef BP_CHECK_H
#define BP_CHECK_H

#include <stdio.h>

#include "bp_config.h"

/* Run the preflight against cfg's Redis, writing the report to out (one line per step;
 * every refusal is one line "refused: <cause>; <fix>"). Returns the process exit code:
 * 0 all good, 78 (EX_CONFIG) for configuration, TLS verification, AUTH or server policy
 * problems, 69 (EX_UNAVAILABLE) when Redis cannot be reached, 70 for anything else. */
int bp_check_run(const bp_config *cfg, FILE *out);

#endif /* BP_CHECK_H */
