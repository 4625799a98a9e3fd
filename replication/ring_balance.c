/*
 * ring-balance - how evenly the ring spreads keys: for clusters of 3, 10
 * and 100 nodes and several vnode counts, place real keys and print the
 * max/mean keys per node (as first replica and as any of N replicas) and
 * the exact shares of the key space.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "replication/ring.h"
#include "store/key.h"

#define NKEYS  1000000

static void
measure(unsigned nodes, unsigned vnodes, unsigned n)
{
	struct ring_member *m = xcalloc(nodes, sizeof(*m));
	unsigned long *primary = xcalloc(nodes, sizeof(*primary));
	unsigned long *replica = xcalloc(nodes, sizeof(*replica));
	char ids[128][16], key[32];
	char (*idbuf)[16] = nodes <= 128 ? ids : xcalloc(nodes, 16);
	struct ring r;
	uint32_t pref[RING_MAX_N];
	unsigned i, k, cnt;
	unsigned long pmax = 0, rmax = 0;
	double smax = 0, share_p, share_r;

	for (i = 0; i < nodes; i++) {
		snprintf(idbuf[i], 16, "n%u", i + 1);
		m[i].id = idbuf[i];
		m[i].rack = "";
	}
	if (ring_build(&r, m, nodes, vnodes, n, NULL) < 0)
		abort();
	for (k = 0; k < NKEYS; k++) {
		snprintf(key, sizeof(key), "/dir%u/file%u", k % 97, k);
		cnt = ring_preference_list(&r, key_hash(key, strlen(key)),
		    pref);
		primary[pref[0]]++;
		for (i = 0; i < cnt; i++)
			replica[pref[i]]++;
	}
	for (i = 0; i < nodes; i++) {
		if (primary[i] > pmax)
			pmax = primary[i];
		if (replica[i] > rmax)
			rmax = replica[i];
		ring_ownership(&r, i, &share_p, &share_r);
		if (share_r > smax)
			smax = share_r;
	}
	printf("%6u %7u %3u   %8.3f   %8.3f   %8.3f\n", nodes, vnodes, n,
	    (double)pmax / ((double)NKEYS / nodes),
	    (double)rmax / ((double)NKEYS * (n < nodes ? n : nodes) / nodes),
	    smax / ((double)(n < nodes ? n : nodes) / nodes));
	ring_release(&r);
	free(m);
	free(primary);
	free(replica);
	if (idbuf != ids)
		free(idbuf);
}

int
main(void)
{
	static const unsigned nodes[] = { 3, 10, 100 };
	static const unsigned vnodes[] = { 16, 64, 256 };
	size_t i, j;

	printf("load balance over %d keys, N=3 (max/mean; 1.000 is perfect)\n",
	    NKEYS);
	printf(" nodes  vnodes   N   primary    replicas   share(exact)\n");
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			measure(nodes[i], vnodes[j], 3);
	return 0;
}
