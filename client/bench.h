/*
 * bench.h - quorumctl bench: a load generator for a quorumfs cluster.
 */
#ifndef CLIENT_BENCH_H
#define CLIENT_BENCH_H

/*
 * Run "bench" with its own options (argv[0] is "bench"); nodes is the
 * cluster's node list ("host:port,...").  Returns an exit status.
 */
int	bench_main(const char *nodes, int argc, char **argv);

#endif
