/* guard.c - connection limits and progress rules; see guard.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/qerr.h"
#include "replication/guard.h"

int
guard_admit(const struct guard_limits *g, enum guard_class cls,
    const struct guard_counts *n, char *why, size_t whylen)
{
	/* Peers may use what clients leave, and the reserve besides. */
	if (cls == GUARD_PEER) {
		if (g->max_clients == 0 || n->clients + n->peers <
		    g->max_clients + g->max_peer_connections)
			return 0;
		snprintf(why, whylen, "too many connections (the limit is "
		    "%u, with %u kept for peers)", g->max_clients +
		    g->max_peer_connections, g->max_peer_connections);
		return QERR_UNAVAIL;
	}
	if (g->max_clients_per_host > 0 &&
	    n->from_host >= g->max_clients_per_host) {
		snprintf(why, whylen, "too many connections from this host "
		    "(the limit is %u)", g->max_clients_per_host);
		return QERR_UNAVAIL;
	}
	if (g->max_clients > 0 && n->clients >= g->max_clients) {
		snprintf(why, whylen, "too many client connections (the limit "
		    "is %u)", g->max_clients);
		return QERR_UNAVAIL;
	}
	return 0;
}

/*
 * The time a transfer of `moved` bytes begun at since_ms may take:
 * frame_timeout_ms, plus a second per min_rate bytes moved.
 */
static int
guard_too_slow(const struct guard_limits *g, int64_t since_ms,
    uint64_t moved, int64_t now_ms)
{
	int64_t allowed = g->frame_timeout_ms;

	if (g->min_rate > 0)
		allowed += (int64_t)(moved * 1000 / g->min_rate);
	return now_ms - since_ms > allowed;
}

enum guard_verdict
guard_check(const struct guard_limits *g, enum guard_class cls,
    const struct conn_progress *p, int64_t now_ms, char *why, size_t whylen)
{
	if (g->frame_timeout_ms > 0 && p->in_partial > 0 &&
	    guard_too_slow(g, p->in_since_ms, p->in_partial, now_ms)) {
		snprintf(why, whylen, "a frame unfinished after %" PRId64
		    " ms (%zu bytes came; frame_timeout_ms %u, min_rate "
		    "%zu B/s)", now_ms - p->in_since_ms, p->in_partial,
		    g->frame_timeout_ms, g->min_rate);
		return GUARD_CUT_ABUSE;
	}
	if (g->frame_timeout_ms > 0 && p->out_queued > 0 &&
	    now_ms - p->out_moved_ms > (int64_t)g->frame_timeout_ms) {
		snprintf(why, whylen, "answers unread: %zu bytes queued, none "
		    "taken for %" PRId64 " ms (frame_timeout_ms %u)",
		    p->out_queued, now_ms - p->out_moved_ms,
		    g->frame_timeout_ms);
		return GUARD_CUT_ABUSE;
	}
	if (cls == GUARD_CLIENT && g->idle_timeout_ms > 0 &&
	    p->in_partial == 0 && p->out_queued == 0 && p->inflight == 0 &&
	    now_ms - p->last_io_ms > (int64_t)g->idle_timeout_ms) {
		snprintf(why, whylen, "idle for %" PRId64 " ms "
		    "(idle_timeout_ms %u)", now_ms - p->last_io_ms,
		    g->idle_timeout_ms);
		return GUARD_CUT_IDLE;
	}
	return GUARD_KEEP;
}

/* ip's slot, or NULL when it has none. */
static struct guard_offender *
guard_find(struct guard_penalties *pb, uint32_t ip)
{
	size_t i;

	for (i = 0; i < GUARD_PENALTY_SLOTS; i++)
		if (pb->slot[i].ip == ip)
			return &pb->slot[i];
	return NULL;
}

/* A slot for ip: its own, a free one, or the one struck longest ago. */
static struct guard_offender *
guard_slot(struct guard_penalties *pb, uint32_t ip)
{
	struct guard_offender *o = guard_find(pb, ip), *oldest = &pb->slot[0];
	size_t i;

	if (o != NULL)
		return o;
	for (i = 0; i < GUARD_PENALTY_SLOTS; i++) {
		if (pb->slot[i].ip == 0) {
			oldest = &pb->slot[i];
			break;
		}
		if (pb->slot[i].struck_ms < oldest->struck_ms)
			oldest = &pb->slot[i];
	}
	memset(oldest, 0, sizeof(*oldest));
	oldest->ip = ip;
	return oldest;
}

unsigned
guard_strike(struct guard_penalties *pb, const struct guard_limits *g,
    uint32_t ip, int64_t now_ms, struct guard_offender *before)
{
	struct guard_offender *o;
	int64_t ms = GUARD_PENALTY_MIN_MS;
	unsigned k;

	memset(before, 0, sizeof(*before));
	if (g->abuse_penalty_ms == 0 || ip == 0)
		return 0;
	o = guard_slot(pb, ip);
	if (o->strikes > 0 && now_ms - o->struck_ms > GUARD_FORGIVE_MS)
		o->strikes = 0;
	*before = *o;
	o->strikes++;
	o->struck_ms = now_ms;
	if (o->strikes < GUARD_STRIKES)
		return 0;
	/* Doubled per strike past the threshold, without overflowing. */
	for (k = GUARD_STRIKES; k < o->strikes && ms < g->abuse_penalty_ms;
	    k++)
		ms *= 2;
	if (ms > g->abuse_penalty_ms)
		ms = g->abuse_penalty_ms;
	if (now_ms >= o->until_ms)
		o->closed = 0;		/* a new penalty: counted afresh */
	o->until_ms = now_ms + ms;
	return (unsigned)ms;
}

unsigned
guard_refused(struct guard_penalties *pb, const struct guard_limits *g,
    uint32_t ip, int64_t now_ms, struct guard_offender *before, int *struck)
{
	struct guard_offender *o;

	memset(before, 0, sizeof(*before));
	*struck = 0;
	if (g->abuse_penalty_ms == 0 || ip == 0)
		return 0;
	o = guard_slot(pb, ip);
	if (o->refused == 0 || now_ms - o->refused_ms > GUARD_REFUSAL_MS) {
		o->refused = 0;
		o->refused_ms = now_ms;
	}
	if (++o->refused < GUARD_REFUSALS)
		return 0;
	o->refused = 0;
	*struck = 1;
	return guard_strike(pb, g, ip, now_ms, before);
}

int
guard_penalised(struct guard_penalties *pb, uint32_t ip, int64_t now_ms)
{
	struct guard_offender *o;

	if (ip == 0 || (o = guard_find(pb, ip)) == NULL ||
	    now_ms >= o->until_ms)
		return 0;
	o->closed++;
	return 1;
}

size_t
guard_penalised_ips(const struct guard_penalties *pb, int64_t now_ms,
    uint32_t *ips, size_t max, int64_t *next_ms)
{
	const struct guard_offender *o;
	size_t i, k = 0;

	*next_ms = 0;
	for (i = 0; i < GUARD_PENALTY_SLOTS; i++) {
		o = &pb->slot[i];
		if (o->ip == 0 || o->until_ms <= now_ms)
			continue;
		if (*next_ms == 0 || o->until_ms < *next_ms)
			*next_ms = o->until_ms;
		if (k < max)
			ips[k++] = o->ip;
	}
	return k;
}

unsigned
guard_interval_ms(const struct guard_limits *g)
{
	unsigned shortest = 0, ms;

	if (g->frame_timeout_ms > 0)
		shortest = g->frame_timeout_ms;
	if (g->idle_timeout_ms > 0 && (shortest == 0 ||
	    g->idle_timeout_ms < shortest))
		shortest = g->idle_timeout_ms;
	if (shortest == 0)
		return 0;
	/* A tenth of it (a cut comes at most 10% late), 100 ms to 1 s. */
	ms = shortest / 10;
	return ms < 100 ? 100 : ms > 1000 ? 1000 : ms;
}
