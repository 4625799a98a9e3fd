/*
 * stats.h - counters and latency histograms of one node.
 *
 * Updated only on the event loop's thread, so plain integers suffice.
 * Histograms have fixed exponential buckets in microseconds (50 us to about
 * 13 s); percentiles read from them are bucket upper bounds.
 */
#ifndef REPLICATION_STATS_H
#define REPLICATION_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/quorum.pb-c.h"
#include "proto/wire.h"

enum stat_counter {
	ST_GETS, ST_HEADS, ST_PUTS, ST_DELETES, ST_LISTS,
	ST_FORWARDS, ST_QUORUM_FAILURES, ST_READ_REPAIRS, ST_SIBLINGS_CREATED,
	ST_REPLICA_WRITES, ST_STORE_SYNCS, ST_REPLICA_READS, ST_REPLICA_LISTS,
	ST_BAD_FRAMES, ST_CONNECTIONS, ST_ERRORS,
	ST_HINTED_WRITES, ST_HINTS_STORED, ST_HINTS_DELIVERED,
	ST_HINTS_RECEIVED,
	ST_AE_SESSIONS, ST_AE_KEYS_REPAIRED, ST_AE_BYTES,
	ST_TOMBSTONES_PURGED,
	ST_CLEANUP_KEYS_REMOVED, ST_CLEANUP_KEYS_SKIPPED,
	ST_READ_DATA_FETCHES,
	ST_CONNS_REFUSED, ST_CONNS_CUT, ST_CONNS_PENALISED,
	ST_STORE_WRITE_FAILURES,
	ST_HINTS_REFUSED,
	ST__COUNT
};

enum stat_hist {
	SH_GET_US, SH_PUT_US, SH_LIST_US, SH_REPLICA_WRITE_US,
	SH__COUNT
};

#define STATS_BUCKETS  20

struct stats_hist {
	uint64_t	counts[STATS_BUCKETS + 1];
	uint64_t	sum;
};

struct stats {
	uint64_t		c[ST__COUNT];
	struct stats_hist	h[SH__COUNT];
};

void	stats_count(struct stats *s, enum stat_counter which, uint64_t n);
void	stats_observe(struct stats *s, enum stat_hist which, uint64_t us);
const char *stats_counter_name(enum stat_counter which);
const char *stats_hist_name(enum stat_hist which);
uint64_t stats_bucket_bound(size_t i);
/* The p-th percentile (0..100) of a histogram, in microseconds. */
uint64_t stats_percentile(const struct stats_hist *h, double p);

/* As a StatsResponse (pointing into s and the arena). */
Quorum__StatsResponse *stats_to_pb(const struct stats *s,
	    struct wire_arena *a);
/* As Prometheus text exposition format; malloc'd, caller frees. */
char	*stats_prometheus(const struct stats *s, const char *node);

#endif
