/* stats.c - counters and histograms; see stats.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "replication/stats.h"

static const char *counter_names[ST__COUNT] = {
	"gets", "heads", "puts", "deletes", "lists",
	"forwards", "quorum_failures", "read_repairs", "siblings_created",
	"replica_writes", "store_syncs", "replica_reads", "replica_lists",
	"bad_frames", "connections", "errors",
	"hinted_writes", "hints_stored", "hints_delivered", "hints_received",
	"ae_sessions", "ae_keys_repaired", "ae_bytes",
	"tombstones_purged",
	"cleanup_keys_removed", "cleanup_keys_skipped",
	"read_data_fetches",
	"connections_refused", "connections_cut", "connections_penalised",
	"store_write_failures",
	"hints_refused",
};

static const char *hist_names[SH__COUNT] = {
	"get_latency_us", "put_latency_us", "list_latency_us",
	"replica_write_latency_us",
};

const char *
stats_counter_name(enum stat_counter which)
{
	return counter_names[which];
}

const char *
stats_hist_name(enum stat_hist which)
{
	return hist_names[which];
}

uint64_t
stats_bucket_bound(size_t i)
{
	return 50ull << i;	/* 50 us, 100 us, ... about 26 s */
}

void
stats_count(struct stats *s, enum stat_counter which, uint64_t n)
{
	s->c[which] += n;
}

void
stats_observe(struct stats *s, enum stat_hist which, uint64_t us)
{
	size_t i = 0;

	while (i < STATS_BUCKETS && us > stats_bucket_bound(i))
		i++;
	s->h[which].counts[i]++;
	s->h[which].sum += us;
}

uint64_t
stats_percentile(const struct stats_hist *h, double p)
{
	uint64_t total = 0, seen = 0;
	size_t i;

	for (i = 0; i <= STATS_BUCKETS; i++)
		total += h->counts[i];
	if (total == 0)
		return 0;
	for (i = 0; i <= STATS_BUCKETS; i++) {
		seen += h->counts[i];
		if ((double)seen >= (double)total * p / 100.0)
			return i < STATS_BUCKETS ? stats_bucket_bound(i) :
			    UINT64_MAX;
	}
	return UINT64_MAX;
}

Quorum__StatsResponse *
stats_to_pb(const struct stats *s, struct wire_arena *a)
{
	Quorum__StatsResponse *r = wire_alloc(a, sizeof(*r));
	size_t i, b;

	quorum__stats_response__init(r);
	r->n_counters = ST__COUNT;
	r->counters = wire_alloc(a, ST__COUNT * sizeof(*r->counters));
	for (i = 0; i < ST__COUNT; i++) {
		Quorum__Counter *c = wire_alloc(a, sizeof(*c));

		quorum__counter__init(c);
		c->name = (char *)counter_names[i];
		c->value = s->c[i];
		r->counters[i] = c;
	}
	r->n_histograms = SH__COUNT;
	r->histograms = wire_alloc(a, SH__COUNT * sizeof(*r->histograms));
	for (i = 0; i < SH__COUNT; i++) {
		Quorum__Histogram *h = wire_alloc(a, sizeof(*h));

		quorum__histogram__init(h);
		h->name = (char *)hist_names[i];
		h->n_bounds = STATS_BUCKETS;
		h->bounds = wire_alloc(a, STATS_BUCKETS * sizeof(*h->bounds));
		for (b = 0; b < STATS_BUCKETS; b++)
			h->bounds[b] = stats_bucket_bound(b);
		h->n_counts = STATS_BUCKETS + 1;
		h->counts = (uint64_t *)s->h[i].counts;
		h->sum = s->h[i].sum;
		r->histograms[i] = h;
	}
	return r;
}

char *
stats_prometheus(const struct stats *s, const char *node)
{
	char *buf = NULL;
	size_t len = 0, i, b;
	FILE *f = open_memstream(&buf, &len);

	for (i = 0; i < ST__COUNT; i++) {
		fprintf(f, "# TYPE quorumd_%s_total counter\n", counter_names[i]);
		fprintf(f, "quorumd_%s_total{node=\"%s\"} %llu\n",
		    counter_names[i], node, (unsigned long long)s->c[i]);
	}
	for (i = 0; i < SH__COUNT; i++) {
		uint64_t cum = 0;

		fprintf(f, "# TYPE quorumd_%s histogram\n", hist_names[i]);
		for (b = 0; b <= STATS_BUCKETS; b++) {
			cum += s->h[i].counts[b];
			if (b < STATS_BUCKETS)
				fprintf(f, "quorumd_%s_bucket{node=\"%s\","
				    "le=\"%llu\"} %llu\n", hist_names[i], node,
				    (unsigned long long)stats_bucket_bound(b),
				    (unsigned long long)cum);
			else
				fprintf(f, "quorumd_%s_bucket{node=\"%s\","
				    "le=\"+Inf\"} %llu\n", hist_names[i], node,
				    (unsigned long long)cum);
		}
		fprintf(f, "quorumd_%s_sum{node=\"%s\"} %llu\n", hist_names[i],
		    node, (unsigned long long)s->h[i].sum);
		fprintf(f, "quorumd_%s_count{node=\"%s\"} %llu\n",
		    hist_names[i], node, (unsigned long long)cum);
	}
	fclose(f);
	return buf;
}
