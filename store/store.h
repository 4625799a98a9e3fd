/*
 * store.h - one node's durable, versioned map, on LevelDB.
 *
 * Each key (see key.h) holds a version set (see causal.h): its siblings and
 * tombstones, each with a dot, a timestamp, an opaque metadata blob and an
 * opaque data blob, and a causal context covering every dot the node has
 * seen for the key.  The store is synchronous and knows nothing of sockets
 * or FUSE; the daemon in replication/ is its only user.
 *
 * Durability: every call that changes the map returns success only after the
 * change is synced to disk (LevelDB's log, fsync'd, and before it a big
 * value's file and its directory).  Calls are thread-safe.
 * Every change of a record (write, merge, purge) is run by the store's one
 * writer thread (explicit group commit): it takes every op queued, applies
 * them in order in memory (a later op on a key sees the earlier ones of the
 * batch), writes the whole batch as ONE LevelDB WriteBatch with ONE sync,
 * and only then completes the ops.  So each op is an atomic read-modify-
 * write of its key, throughput grows with concurrent writers, and a batch
 * costs one fsync and one wakeup of whoever waits (see store_submit).  If
 * the batch's write fails, every op of the batch fails with QERR_IO and
 * nothing of it is applied.
 *
 * Layout on disk (one LevelDB, and a directory of files beside it):
 *   'k' parent '\0' name          -> the key's record: cc + version headers
 *                                    (metadata inline; data inline when
 *                                    it is at most RECORD_INLINE_MAX
 *                                    bytes, else its length only, and
 *                                    whether it is in a blob)
 *   'd' key '\0' node '\0' be64 counter be32 chunk
 *                                 -> the data of a bigger version, under
 *                                    BLOB_MIN (blob.h), in 1 MiB chunks
 *   'h' be64 hash key             -> "" (ring-order index, for ranges)
 *   DIR/blobs/<hash of key, dot>  -> the data of a version of BLOB_MIN
 *                                    bytes or more, a file each, written
 *                                    and synced before the record naming
 *                                    it is committed, removed after the
 *                                    change that drops it (blob.h)
 * Records are grouped by parent directory, so listing a directory reads only
 * its direct children; head and listing never read a data chunk.  A small
 * write is thus two rows for a new key and one for an existing one.  A big
 * value does not go through LevelDB's log, memtable and compactions, which
 * wrote it three or four times over on each node.
 *
 * Errors follow lib/qerr.h.  Keys are validated on every call; a value over
 * the configured maximum is QERR_TOO_BIG; nothing is changed on any error.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/causal.h"

#define STORE_DEFAULT_MAX_VALUE  (64u << 20)   /* 64 MiB */
#define STORE_CHUNK_SIZE         (1u << 20)
#define STORE_META_MAX           (64u << 10)   /* metadata bytes per version */

struct store;

#define STORE_FAILURE_NOTE_MS	10000

struct store_options {
	size_t	max_value_size;		/* 0: STORE_DEFAULT_MAX_VALUE */
	size_t	cache_size;		/* LevelDB block cache bytes; 0: 8 MiB */
	/* Data of this many bytes or more goes to a blob file (blob.h);
	 * 0: BLOB_MIN, SIZE_MAX: never (tests of LevelDB's own path). */
	size_t	blob_min;
	int	create_if_missing;	/* 1 for a new node */
	/*
	 * Told, one sentence each, what an operator should hear of: what
	 * opening had to do (a log's unsynced tail cut after a crash, an
	 * abandoned append removed: logcut.h), and while the store runs, from
	 * its writer thread, that writes fail (once, then at most every
	 * STORE_FAILURE_NOTE_MS while they do, except that a failed table
	 * write, which lasts until a restart, is told at once) and that they
	 * succeed again.
	 * NULL: not told.
	 */
	void	(*note)(const char *line, void *arg);
	void	*note_arg;
	/* Bytes of hints (store/hints.h) kept for one target at most, so that
	 * a member down for long cannot fill this node's disk; 0: no limit. */
	uint64_t max_hint_bytes;
};

/*
 * Open (creating when asked) the store in dir; *out owns it.  LevelDB's
 * logs are written over zero-filled blocks (logenv.h), so the logs are
 * first cut back to their synced records (logcut.h): QERR_CORRUPT, and
 * nothing opened, when synced records are damaged.  A directory this or
 * another process has open is QERR_IO "in use by ...", nothing cut.
 */
int	store_open(const char *dir, const struct store_options *opt,
	    struct store **out, char **err);
/* Close and free; every acknowledged write is already on disk. */
void	store_close(struct store *st);
size_t	store_max_value_size(const struct store *st);

/*
 * Read a key: *out receives the version set (cc and every version, the
 * tombstones included).  With want_data each live version's data is read
 * too; without it (a head) no data chunk is touched and data is NULL.
 * Returns 1 when the key has a record, 0 when absent (out left empty).
 * The caller releases out with vset_release.
 */
int	store_get(struct store *st, const char *key, size_t klen,
	    int want_data, struct vset *out, char **err);
/*
 * store_get, but a read of data bigger than max_data bytes (the live
 * versions' together) reads none and returns QERR_TOO_BIG: a caller that
 * must not wait long (the event loop) reads small values itself and hands
 * big ones to a thread.
 */
int	store_get_bounded(struct store *st, const char *key, size_t klen,
	    int want_data, size_t max_data, struct vset *out, char **err);

/*
 * A write coordinated by this node, whose id is node (the actor named in
 * the new dot): w->ctx (NULL: empty) names the versions it replaces, and
 * the new version is built from the other fields of w.  As store_put.
 */
struct store_write {
	const struct cc	*ctx;
	const char	*node;
	int64_t		 ts_us;
	uint64_t	 reqid;		/* client request id, 0: none */
	int		 retry;		/* the client sent it before */
	int		 tombstone;
	const void	*meta;
	size_t		 meta_len;
	const void	*data;
	size_t		 data_len;
	size_t		*live_after;	/* out, optional: live versions after */
};
int	store_write(struct store *st, const char *key, size_t klen,
	    const struct store_write *w, struct vset *delta,
	    struct dot *dot_out, char **err);

/*
 * A write coordinated by this node, whose id is node: replaces the versions
 * ctx covers (ctx may be NULL: the empty context) with one new version, a
 * tombstone when tombstone is set (data is then ignored).  On success the
 * delta to send to the other replicas is left in *delta when delta is not
 * NULL (release it with vset_release) and the new dot in *dot_out when that
 * is not NULL (release with dot_release).
 */
int	store_put(struct store *st, const char *key, size_t klen,
	    const struct cc *ctx, const char *node, int64_t ts_us,
	    int tombstone, const void *meta, size_t meta_len,
	    const void *data, size_t data_len, struct vset *delta,
	    struct dot *dot_out, char **err);

/*
 * Merge a version set from another replica (a write's delta, a read-repair
 * or an anti-entropy state).  Versions new to this node must carry their
 * data unless they are tombstones.  *changed (when not NULL) is set to 1 if
 * the local set changed.  Commutative, associative and idempotent.
 */
int	store_merge(struct store *st, const char *key, size_t klen,
	    const struct vset *remote, int *changed, char **err);

/*
 * List the direct children of directory dir ("/" for the root) in byte
 * order of their names, starting after the name `after` (NULL or "" for the
 * start), at most limit entries (0: no limit).  For each child the callback
 * gets its name and its version set without data (tombstones included, so
 * a caller merging listings from several replicas can hide deleted names).
 * A callback returning non-zero stops the listing early.  *more is set to 1
 * when entries remain past limit.
 */
typedef int (*store_list_cb)(void *arg, const char *name, size_t name_len,
	    const struct vset *s);
int	store_list(struct store *st, const char *dir, size_t dlen,
	    const char *after, size_t limit, store_list_cb cb, void *arg,
	    int *more, char **err);

/*
 * Call cb for every key whose ring hash h satisfies lo <= h <= hi, in hash
 * order (a range with lo > hi wraps around the ring).  Non-zero from cb stops.
 */
typedef int (*store_scan_cb)(void *arg, uint64_t hash, const char *key,
	    size_t klen);
int	store_scan_hash(struct store *st, uint64_t lo, uint64_t hi,
	    store_scan_cb cb, void *arg, char **err);

/*
 * Purge a key's tombstones when no live version is left: the versions go,
 * the key's causal context stays (a few bytes), so that a stale copy of a
 * deleted version can never come back and no dot is ever named twice; the
 * key then reads as absent.  Deciding when that is safe (every replica
 * holds the tombstone, or a grace period has passed) is the caller's.  Tombstones
 * written after older_than_us are kept.  Returns 1 when purged, 0 if not.
 */
int	store_purge_tombstones(struct store *st, const char *key, size_t klen,
	    int64_t older_than_us, char **err);

/*
 * A record's digest: XXH3 of the key and its record (versions' headers and
 * metadata, cc; not data).  Equal version sets give equal digests on every
 * node; never 0, which stands for "no record".
 */
uint64_t store_record_digest(const char *key, size_t klen,
	    const struct vset *s);

/*
 * Call fn after every change of a key's record, with the digests before and
 * after (0: absent), on the writer thread once the change is synced, in the
 * order of the changes: fn must be quick and must not call back into the
 * store.  Set
 * it before the store is shared between threads.  (Anti-entropy keeps its
 * Merkle trees up to date with it.)
 */
typedef void (*store_change_fn)(void *arg, const char *key, size_t klen,
	    uint64_t old_digest, uint64_t new_digest);
void	store_set_change_hook(struct store *st, store_change_fn fn, void *arg);

/*
 * store_purge_tombstones, and only if the record's digest is still digest
 * (0: any): a purge agreed on by every replica for the state they all
 * held never removes a write that arrived since.
 */
int	store_purge_if(struct store *st, const char *key, size_t klen,
	    int64_t older_than_us, uint64_t digest, char **err);

/*
 * Remove a key altogether, only if its record's digest is still digest (0:
 * any): the record, every data chunk and the index row go in one synced
 * batch, and the change hook sees the digest become 0.  Unlike a purge no
 * causal context stays, so only a node that is not a replica of the key
 * may do this (quorumctl cleanup, once the key's owners hold what it had).
 * Returns 1 when removed, 0 if absent or changed since.
 */
int	store_remove_if(struct store *st, const char *key, size_t klen,
	    uint64_t digest, char **err);

/*
 * Asynchronous changes: the calls above are store_run of one op.  The
 * caller fills the inputs, which must stay valid until the op completes,
 * and store_submit queues it for the writer.  Once the batch holding it is
 * synced (or failed), done(op) runs on the writer thread, for every op of
 * the batch in queue order, and then the batch hook (store_set_batch_hook)
 * runs once: a caller that hands completions to another thread collects
 * them in done() and passes them on, all at once, in the hook.  done() and
 * the hook must be quick and must not call back into the store.  The
 * results are the synchronous call's: rc (< 0 with err, which the caller
 * frees), and for a write delta, dot and live_after (the caller releases
 * delta and dot, also on failure: they are then empty).
 *
 * A write may also have early(op): it runs on the writer thread once the
 * write is staged and before the batch is synced, for every such op of the
 * batch, and then the staged hook (store_set_staged_hook) runs once.  From
 * then on delta, dot and live_after are the caller's (it may send the
 * delta to other replicas while this node syncs); done() still follows,
 * after the sync, and rc then says whether the write is durable here.  A
 * failed sync leaves LevelDB refusing every later write, so the dot is
 * never handed out again by this process; store_healthy() tells a clean
 * shutdown apart from one after such a failure.
 */
enum store_op_kind {
	STORE_OP_WRITE,		/* store_write: w */
	STORE_OP_MERGE,		/* store_merge: remote */
	STORE_OP_PURGE,		/* store_purge_if: older_than_us, digest */
	STORE_OP_REMOVE,	/* store_remove_if: digest */
};
struct store_op {
	enum store_op_kind	 kind;
	const char		*key;
	size_t			 klen;
	struct store_write	 w;
	const struct vset	*remote;
	int64_t			 older_than_us;
	uint64_t		 digest;
	void			(*done)(struct store_op *op);
	void			(*early)(struct store_op *op);	/* or NULL */
	void			*arg;		/* the caller's */
	/* results */
	int			 rc;
	char			*err;
	struct vset		 delta;
	struct dot		 dot;
	size_t			 live_after;
	int			 changed;	/* merge: set changed; purge: 1 */
	/* the store's */
	struct store_op		*next;
	uint64_t		 old_digest, new_digest;
	size_t			 cost;
	int			 staged, complete, handed;
};
void	store_submit(struct store *st, struct store_op *op);
/* Submit op (its done is ignored) and wait until it completes. */
void	store_run(struct store *st, struct store_op *op);
/* The same for ops[0..n) at once: queued together, they share the
 * writer's syncs (group commit) instead of paying one each. */
void	store_run_all(struct store *st, struct store_op *ops, size_t n);
typedef void (*store_batch_fn)(void *arg);
/* Set before the first op is submitted. */
void	store_set_batch_hook(struct store *st, store_batch_fn fn, void *arg);
/* Set before the first op is submitted: runs after a batch's early()s. */
void	store_set_staged_hook(struct store *st, store_batch_fn fn, void *arg);
/* 0 once a batch failed to sync: the store takes no more changes. */
int	store_healthy(struct store *st);
/* Wait until every op submitted so far has completed. */
void	store_quiesce(struct store *st);
/*
 * Batches written since the store was opened, each one synced LevelDB
 * write: against the changes made, how well group commit shares syncs.
 */
uint64_t store_sync_count(struct store *st);
/*
 * Batches in which the disk failed a write (the batch's own, or a big
 * value's file): what an operator alerts on, with the note's line.
 */
uint64_t store_write_failure_count(struct store *st);

/* Fault injection for tests: the next n syncing writes fail with QERR_IO. */
void	store_fail_next_writes(struct store *st, int n);

#endif
