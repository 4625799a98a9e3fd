/* members.c - gossiped heartbeats and phi accrual; see members.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "replication/members.h"

#define MEMBERS_MAX_SKEW_US  (600ll * 1000000)	/* 10 minutes of clocks */

int64_t
members_now_ms(void)
{
	return mono_ms();
}

static int64_t
members_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
members_init(struct members *ms, const struct ring *r, uint32_t self,
    uint64_t generation, double phi_threshold, unsigned interval_ms)
{
	int64_t now = members_now_ms();
	size_t i;

	memset(ms, 0, sizeof(*ms));
	ms->ring = r;
	ms->self = self;
	ms->threshold = phi_threshold;
	ms->interval_ms = interval_ms ? interval_ms : 200;
	ms->m = xcalloc(r->nmembers + 1, sizeof(*ms->m));
	ms->nm = r->nmembers;
	for (i = 0; i < r->nmembers; i++) {
		ms->m[i].state = MEMBER_UP;
		ms->m[i].last_arrival_ms = now;
	}
	ms->m[self].generation = generation;
}

void
members_grow(struct members *ms, size_t nmembers)
{
	int64_t now = members_now_ms();
	size_t i;

	if (nmembers <= ms->nm)
		return;
	ms->m = xreallocarray(ms->m, nmembers, sizeof(*ms->m));
	memset(&ms->m[ms->nm], 0, (nmembers - ms->nm) * sizeof(*ms->m));
	/* As at start: up until the detector, counting from now, says not. */
	for (i = ms->nm; i < nmembers; i++) {
		ms->m[i].state = MEMBER_UP;
		ms->m[i].last_arrival_ms = now;
	}
	ms->nm = nmembers;
}

void
members_release(struct members *ms)
{
	free(ms->m);
	ms->m = NULL;
}

const char *
member_state_name(enum member_state s)
{
	switch (s) {
	case MEMBER_UP:      return "up";
	case MEMBER_SUSPECT: return "suspect";
	case MEMBER_DOWN:    return "down";
	}
	return "unknown";
}

static double
mean_interval(const struct members *ms, const struct member *m)
{
	double sum = 0, mean;
	size_t i;

	for (i = 0; i < m->nintervals; i++)
		sum += m->intervals[i];
	mean = m->nintervals ? sum / (double)m->nintervals : ms->interval_ms;
	/* Never expect arrivals faster than we gossip. */
	return mean < ms->interval_ms ? ms->interval_ms : mean;
}

double
members_phi(const struct members *ms, uint32_t i, int64_t now_ms)
{
	const struct member *m = &ms->m[i];

	if (i == ms->self)
		return 0;
	return (double)(now_ms - m->last_arrival_ms) / mean_interval(ms, m) *
	    M_LOG10E;
}

static void
member_arrival(struct member *m, int64_t now_ms)
{
	int64_t gap = now_ms - m->last_arrival_ms;

	if (gap > 0) {
		m->intervals[m->next] = (uint32_t)(gap > 60000 ? 60000 : gap);
		m->next = (m->next + 1) % MEMBERS_WINDOW;
		if (m->nintervals < MEMBERS_WINDOW)
			m->nintervals++;
	}
	m->last_arrival_ms = now_ms;
}

static void
member_set_state(struct members *ms, uint32_t i, enum member_state s,
    double phi)
{
	struct member *m = &ms->m[i];

	if (m->state == s)
		return;
	log_info("member %s: %s -> %s (phi %.1f)", ms->ring->members[i].id,
	    member_state_name(m->state), member_state_name(s), phi);
	m->state = s;
}

static void
member_evaluate(struct members *ms, uint32_t i, int64_t now_ms)
{
	struct member *m = &ms->m[i];
	double phi = members_phi(ms, i, now_ms);

	if (i == ms->self)
		return;
	if (phi >= ms->threshold) {
		if (m->suspected_ms == 0)
			m->suspected_ms = now_ms;
		member_set_state(ms, i, phi >= 2 * ms->threshold ?
		    MEMBER_DOWN : MEMBER_SUSPECT, phi);
		return;
	}
	/* Heartbeats again: up only once it answered us itself. */
	if (m->suspected_ms != 0 && m->last_direct_ms <= m->suspected_ms)
		return;
	m->suspected_ms = 0;
	member_set_state(ms, i, MEMBER_UP, phi);
}

void
members_tick(struct members *ms, int64_t now_ms)
{
	size_t i;

	ms->m[ms->self].heartbeat++;
	ms->m[ms->self].last_arrival_ms = now_ms;
	for (i = 0; i < ms->nm; i++)
		member_evaluate(ms, (uint32_t)i, now_ms);
}

void
members_merge(struct members *ms, const Quorum__Gossip *g, int64_t now_ms)
{
	size_t k;

	for (k = 0; k < g->n_members; k++) {
		const Quorum__Member *pm = g->members[k];
		long i = pm->id ? ring_member_index(ms->ring, pm->id) : -1;
		struct member *m;

		if (i < 0 || (uint32_t)i == ms->self || (size_t)i >= ms->nm)
			continue;
		m = &ms->m[i];
		/* Generations are start times in us: none from the future. */
		if (pm->generation > (uint64_t)members_wall_us() +
		    MEMBERS_MAX_SKEW_US)
			continue;
		if (pm->generation < m->generation ||
		    (pm->generation == m->generation &&
		    pm->heartbeat <= m->heartbeat))
			continue;
		if (pm->generation > m->generation && m->generation != 0)
			log_info("member %s restarted (generation %llu)",
			    pm->id, (unsigned long long)pm->generation);
		m->generation = pm->generation;
		m->heartbeat = pm->heartbeat;
		m->ring_digest = pm->ring_digest;
		m->synced_digest = pm->synced_digest;
		m->ranges_total = pm->ranges_total;
		m->ranges_done = pm->ranges_done;
		m->keys_moved = pm->keys_moved;
		m->disk.id = pm->disk_id;
		m->disk.bytes = pm->disk_bytes;
		m->disk.avail = pm->disk_avail;
		m->disk.free = pm->disk_free;
		m->disk.files = pm->disk_files;
		m->disk.files_avail = pm->disk_files_avail;
		member_arrival(m, now_ms);
		member_evaluate(ms, (uint32_t)i, now_ms);
	}
}

void
members_heard_directly(struct members *ms, uint32_t i, int64_t now_ms)
{
	ms->m[i].last_direct_ms = now_ms;
	member_evaluate(ms, i, now_ms);
}

int
members_available(const struct members *ms, uint32_t i)
{
	return i == ms->self || ms->m[i].state == MEMBER_UP;
}

Quorum__Gossip *
members_to_pb(const struct members *ms, const char *from,
    struct wire_arena *a)
{
	Quorum__Gossip *g = wire_alloc(a, sizeof(*g));
	size_t i, n = ms->nm;

	quorum__gossip__init(g);
	g->from = (char *)from;
	g->n_members = n;
	g->members = wire_alloc(a, n * sizeof(*g->members));
	for (i = 0; i < n; i++) {
		Quorum__Member *pm = wire_alloc(a, sizeof(*pm));

		quorum__member__init(pm);
		pm->id = ms->ring->members[i].id;
		pm->rack = ms->ring->members[i].rack;
		pm->generation = ms->m[i].generation;
		pm->heartbeat = ms->m[i].heartbeat;
		pm->ring_digest = ms->m[i].ring_digest;
		pm->synced_digest = ms->m[i].synced_digest;
		pm->ranges_total = ms->m[i].ranges_total;
		pm->ranges_done = ms->m[i].ranges_done;
		pm->keys_moved = ms->m[i].keys_moved;
		pm->disk_id = ms->m[i].disk.id;
		pm->disk_bytes = ms->m[i].disk.bytes;
		pm->disk_avail = ms->m[i].disk.avail;
		pm->disk_free = ms->m[i].disk.free;
		pm->disk_files = ms->m[i].disk.files;
		pm->disk_files_avail = ms->m[i].disk.files_avail;
		pm->state = ms->m[i].state == MEMBER_UP ?
		    QUORUM__MEMBER__STATE__UP : ms->m[i].state ==
		    MEMBER_SUSPECT ? QUORUM__MEMBER__STATE__SUSPECT :
		    QUORUM__MEMBER__STATE__DOWN;
		g->members[i] = pm;
	}
	return g;
}
