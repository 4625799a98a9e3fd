/*
 * capacity.c - what the cluster can still take; see capacity.h.
 */
#include <stdlib.h>
#include <string.h>

#include "client/capacity.h"
#include "lib/xalloc.h"

/* One file system: its figures and the share of the key space on it. */
struct fsload {
	uint64_t	id, bytes, free, avail, files, files_avail;
	double		load;
};

static int
holds_share(const Quorum__RingResponse__Member *m)
{
	return m->replica_share > 0 &&
	    (m->ring_state == NULL || strcmp(m->ring_state, "left") != 0);
}

static struct fsload *
fs_find_or_add(struct fsload *fs, size_t *n, const
    Quorum__RingResponse__Member *m)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (fs[i].id == m->disk_id)
			return &fs[i];
	fs[*n].id = m->disk_id;
	fs[*n].bytes = m->disk_bytes;
	fs[*n].avail = m->disk_avail;
	fs[*n].free = m->disk_free;
	fs[*n].files = m->disk_files;
	fs[*n].files_avail = m->disk_files_avail;
	fs[*n].load = 0;
	return &fs[(*n)++];
}

static uint64_t
scaled(uint64_t v, double load)
{
	double s = (double)v / load;

	return s >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)s;
}

static void
take_min(uint64_t *cur, uint64_t v, int first)
{
	if (first || v < *cur)
		*cur = v;
}

void
qc_capacity_of(const Quorum__RingResponse *r, struct qc_capacity *out)
{
	struct fsload *fs = xcalloc(r->n_members + 1, sizeof(*fs));
	size_t i, nfs = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < r->n_members; i++) {
		const Quorum__RingResponse__Member *m = r->members[i];

		if (!holds_share(m))
			continue;
		out->members++;
		if (m->disk_id == 0)
			continue;
		out->known++;
		fs_find_or_add(fs, &nfs, m)->load += m->replica_share;
	}
	for (i = 0; i < nfs; i++) {
		take_min(&out->bytes, scaled(fs[i].bytes, fs[i].load), i == 0);
		take_min(&out->free, scaled(fs[i].free, fs[i].load), i == 0);
		take_min(&out->avail, scaled(fs[i].avail, fs[i].load), i == 0);
		take_min(&out->files, scaled(fs[i].files, fs[i].load), i == 0);
		take_min(&out->files_avail, scaled(fs[i].files_avail,
		    fs[i].load), i == 0);
	}
	out->filesystems = (unsigned)nfs;
	free(fs);
}

int
qc_capacity(struct qc *qc, struct qc_capacity *out, char **err)
{
	Quorum__Envelope *reply;
	int rc;

	if ((rc = qc_ring(qc, -1, &reply, err)) < 0)
		return rc;
	qc_capacity_of(reply->ring_response, out);
	qc_reply_free(reply);
	return 0;
}
