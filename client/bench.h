/*
 * bench.h - quorumctl bench: a load generator for a quorumfs cluster.
 */
#ifndef CLIENT_BENCH_H
#define CLIENT_BENCH_H

#include "client/qclient.h"

/*
 * Run "bench" with its own options (argv[0] is "bench"); base holds the
 * cluster's node list ("host:port,...") and the TLS files, as quorumctl's
 * options gave them.  Returns an exit status.
 */
int	bench_main(const struct qc_options *base, int argc, char **argv);

#endif
