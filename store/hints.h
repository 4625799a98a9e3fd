/*
 * hints.h - the durable hint log of hinted handoff (Dynamo's sloppy quorum).
 *
 * When a key's home replica is down, a stand-in keeps the write for it as a
 * hint: the key and the write's version set (with the data of its live
 * versions).  The daemon delivers a target's hints once it is back, in
 * batches, and drops them once the target answers that it merged and synced
 * every hint up to some sequence number.  Delivery, its pacing and its rate
 * limit are the daemon's (replication/handoff.c); this is the storage.
 *
 * Contract:
 *   - A hint is synced to disk before store_hint_add returns success, and it
 *     lives in a keyspace of its own: store_get, store_list and
 *     store_scan_hash never see it, and it changes no key's record.
 *   - Each target has its own sequence: a successful add gets a number
 *     greater than every number an add for that target got before, across
 *     restarts, and never one given before, even once every hint has been
 *     dropped.  A failed add may leave a gap.
 *   - store_hint_read returns hints in sequence order and never returns a
 *     hint while an add with a smaller number for the same target is still
 *     in flight, so a reader that resumes after the last sequence it saw
 *     (after_seq) never skips one.  The log is the resume point: dropped
 *     hints are gone, the others stay until dropped.
 *   - store_hint_drop_through removes every hint up to seq in one synced
 *     write; it is idempotent, and the point it reached is kept on disk.
 *   - The backlog (count, bytes, oldest) is kept in memory, updated by add
 *     and drop and rebuilt when the store opens by one pass over the hint
 *     keyspace that reads no data.
 *   - A hint whose bytes do not decode is QERR_CORRUPT with a message, never
 *     a crash; store_hint_next_seq names it so that it can be dropped.
 *   - A target's backlog never passes store_options.max_hint_bytes (when
 *     set), counting adds in flight: an add that would is refused.
 *
 * Every call is thread-safe.  Errors follow lib/qerr.h; nothing is changed
 * on any error.  store_fail_next_writes makes add and drop fail too.
 */
#ifndef STORE_HINTS_H
#define STORE_HINTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/causal.h"
#include "store/store.h"

/* One hint as read back; store_hints_free releases an array of them. */
struct store_hint {
	uint64_t	 seq;
	char		*key;		/* NUL-terminated, klen bytes */
	size_t		 klen;
	struct vset	 s;		/* live versions carry their data */
	int64_t		 added_us;	/* wall clock of the add */
};

/*
 * Keep a hint for node target: key and its version set s, whose live
 * versions must carry their data (a NULL data is only allowed with length
 * 0).  Synced before return.  *seq_out (when not NULL) receives the hint's
 * sequence number.  QERR_INVALID for a bad target, key or set, QERR_TOO_BIG
 * for metadata or a value over the store's limits or a hint that would take
 * the target's backlog past max_hint_bytes, QERR_IO when the write fails.
 */
int	store_hint_add(struct store *st, const char *target, const char *key,
	    size_t klen, const struct vset *s, uint64_t *seq_out, char **err);
/* 1 when store_hint_add's rc and err say max_hint_bytes refused the hint. */
int	store_hint_refused(int rc, const char *err);

/*
 * Read a batch for target: the hints with seq > after_seq in sequence
 * order, at most max_count of them and about max_bytes of data and headers
 * (0: no limit; the first hint is always taken, however big).  *out
 * (malloc'd, free with store_hints_free) and *n receive them; *n is 0 when
 * there is nothing to deliver.  A hint that does not decode ends the batch
 * before it; when it is the first, the call fails with QERR_CORRUPT.
 */
int	store_hint_read(struct store *st, const char *target,
	    uint64_t after_seq, size_t max_count, size_t max_bytes,
	    struct store_hint **out, size_t *n, char **err);
void	store_hints_free(struct store_hint *h, size_t n);

/*
 * The sequence number of target's first hint after after_seq, decodable or
 * not, in *seq: 1 found, 0 none.  (To step over a hint store_hint_read
 * reports as corrupt: drop through the number this gives.)
 */
int	store_hint_next_seq(struct store *st, const char *target,
	    uint64_t after_seq, uint64_t *seq, char **err);

/*
 * Target acknowledged (merged and synced) every hint up to seq: remove them
 * all, synced.  Idempotent: a seq at or below the point already dropped
 * through changes nothing.  QERR_INVALID for a seq no read could have
 * returned yet.
 */
int	store_hint_drop_through(struct store *st, const char *target,
	    uint64_t seq, char **err);

/*
 * Call cb for every target with a backlog (count > 0), in byte order of the
 * target ids: its hint count, their bytes on disk (headers and data) and
 * the wall clock at which the oldest was added.  From memory; cb runs with
 * no lock held and may call back into the store.  Non-zero from cb stops.
 */
typedef int (*store_hint_target_cb)(void *arg, const char *target,
	    uint64_t count, uint64_t bytes, int64_t oldest_us);
int	store_hint_targets(struct store *st, store_hint_target_cb cb,
	    void *arg, char **err);

#endif
