/*
 * causal.h - causality for one key: dots, causal contexts, version sets.
 *
 * This is the dotted-version-vector scheme of Preguiça, Baquero, Almeida et
 * al. ("Dotted Version Vectors", "Scalable and Accurate Causality Tracking for
 * Eventually Consistent Stores"), in its "causal context" form:
 *
 *   - A dot (node, counter) names one version: the counter-th write that node
 *     coordinated for this key.  Dots are never reused.
 *   - A causal context (struct cc) is a set of dots, kept as a version vector
 *     with exceptions: for each node a max, and the holes below it.  A dot
 *     (n, c) is in the set iff 1 <= c <= max[n] and c is not a hole of n.
 *     Holes let a context name an exact set of versions, e.g. (A,2) and not
 *     (A,1), which a bare version vector cannot.
 *   - A version set (struct vset) is what a replica holds for a key: its live
 *     versions (siblings, tombstones included) and a cc covering every dot
 *     it has ever seen, live or replaced.  Invariant: each version's dot is
 *     in the set's cc, versions are sorted by dot and no dot appears twice.
 *
 * Retired requests.  A client retries a write it got no answer for, with
 * the same request id (reqid), and the retry may reach another coordinator
 * while the first attempt is still applied somewhere: the same write then
 * exists under two dots.  Both copies are one write, so a context that
 * replaces one must replace the other, even one it has never seen (it may
 * be on a node that was down).  So a cc also holds retired request ids:
 * a version whose reqid is retired in either side's cc does not survive a
 * merge, and a version a merge drops has its reqid retired in the result.
 * A stored cc keeps only the CAUSAL_RETIRED_KEEP most recent (by the
 * version's timestamp, then reqid), and CAUSAL_RETIRED_KEEP_RETRY more of
 * writes that were retries (version.retry): those are the ones with another
 * copy somewhere, perhaps on a node that is down while the key is replaced
 * many times.  A copy that surfaces after that many later replacements of
 * its key shows as a sibling, never as a loss.  A
 * context handed to a client retires the reqids of the versions it names,
 * so a write with it replaces every copy of them.
 *
 * A write carries a context: the dots the writer saw and replaces.  The
 * coordinator makes a delta (ctx + the new dot, and the one new version) and
 * every replica merges it.  Merge keeps a version iff the other side also
 * has it or has never seen its dot; it is commutative, associative and
 * idempotent, and it is the only way a set changes.  So a version survives
 * exactly when no writer's context covered it: siblings are true concurrency,
 * never an artefact of which coordinator or replica saw what first.
 *
 * Ownership: every struct here owns its strings and buffers; *_init makes an
 * empty value, *_release frees the contents (the struct may be reused after
 * *_init), *_copy makes an independent deep copy.
 */
#ifndef STORE_CAUSAL_H
#define STORE_CAUSAL_H

#include <stddef.h>
#include <stdint.h>

#define CAUSAL_NODE_MAX   64      /* bytes in a node id */
#define CAUSAL_HOLES_MAX  65536   /* holes per node a decoded cc may carry */
#define CAUSAL_RETIRED_KEEP 16    /* retired reqids a stored cc keeps */
#define CAUSAL_RETIRED_KEEP_RETRY 64 /* and more of retried writes */
#define CAUSAL_RETIRED_MAX 4096   /* retired reqids a decoded cc may carry */
/*
 * The largest counter a decoded cc may name, and the largest a client's
 * context may name (context_decode): a write's counter is one past every
 * counter its coordinator knows of, so a context naming 2^64 - 1 would
 * wrap it to 0; with these bounds a key takes 2^62 more writes before its
 * counters reach the limit.
 */
#define CAUSAL_COUNTER_MAX	(UINT64_C(1) << 63)
#define CAUSAL_CONTEXT_COUNTER_MAX (UINT64_C(1) << 62)

struct dot {
	char		*node;
	uint64_t	 counter;
};

struct cc_entry {
	char		*node;
	uint64_t	 max;
	uint64_t	*holes;		/* ascending, each < max */
	size_t		 nholes;
};

struct retired {
	uint64_t	 reqid;		/* never 0 */
	int64_t		 ts_us;		/* the retired version's ts_us */
	int		 retry;		/* a copy of it was a retry */
};

struct cc {
	struct cc_entry	*e;		/* ascending by node (strcmp) */
	size_t		 n;
	struct retired	*r;		/* ascending by reqid, unique */
	size_t		 nr;
};

struct version {
	struct dot	 dot;
	int64_t		 ts_us;		/* coordinator's wall clock; display only */
	uint64_t	 reqid;		/* client's request id; 0: none */
	int		 retry;		/* sent again: may have other copies */
	int		 tombstone;
	void		*meta;
	size_t		 meta_len;
	void		*data;		/* NULL when not loaded (see data_len) */
	size_t		 data_len;
	int		 in_blob;	/* store/ only: the data is in a blob
					   file (blob.h); not part of what
					   the version is, never sent */
};

struct vset {
	struct cc	 cc;
	struct version	*v;
	size_t		 n;
};

/* Dots */
int	dot_compare(const struct dot *a, const struct dot *b);
void	dot_release(struct dot *d);

/* Causal contexts */
void	cc_init(struct cc *cc);
void	cc_release(struct cc *cc);
void	cc_copy(struct cc *dst, const struct cc *src);
int	cc_contains(const struct cc *cc, const char *node, uint64_t counter);
uint64_t cc_max(const struct cc *cc, const char *node);
void	cc_add(struct cc *cc, const char *node, uint64_t counter);
void	cc_remove(struct cc *cc, const char *node, uint64_t counter);
/* Union of the dots and of the retired reqids, keeping the most recent
 * CAUSAL_RETIRED_KEEP of these: the union a stored set takes. */
void	cc_union(struct cc *dst, const struct cc *src);
/* Retire reqid (0 is ignored); nothing is dropped to make room. */
void	cc_retire(struct cc *cc, uint64_t reqid, int64_t ts_us, int retry);
/* Retire v's reqid. */
void	cc_retire_version(struct cc *cc, const struct version *v);
/* Drop all but the retirements a stored cc keeps (see above). */
void	cc_trim_retired(struct cc *cc);
void	cc_unretire(struct cc *cc, uint64_t reqid);
int	cc_is_retired(const struct cc *cc, uint64_t reqid);
/* Mark reqids (ascending, each retired in cc) as retried writes: for
 * decoders.  QERR_CORRUPT if one is not retired. */
int	cc_mark_retried(struct cc *cc, const uint64_t *reqids, size_t n,
	    char **err);
int	cc_equal(const struct cc *a, const struct cc *b);
/* Check the invariants of a cc that came from outside: 0 or QERR_CORRUPT. */
int	cc_check(const struct cc *cc, char **err);
/* 0 if node is a usable node id (1..CAUSAL_NODE_MAX bytes, no NUL). */
int	node_id_validate(const char *node, char **err);

/* Versions */
void	version_copy(struct version *dst, const struct version *src);
void	version_release(struct version *v);

/* Version sets */
void	vset_init(struct vset *s);
void	vset_release(struct vset *s);
void	vset_copy(struct vset *dst, const struct vset *src);
/* Index of the version with this dot, or -1. */
long	vset_find(const struct vset *s, const struct dot *d);
/* Index of a version written by client request reqid (not 0), or -1. */
long	vset_find_reqid(const struct vset *s, uint64_t reqid);
/* Insert a copy of v keeping dot order; the caller keeps the cc right. */
void	vset_insert(struct vset *s, const struct version *v);
/* Number of versions that are not tombstones. */
size_t	vset_live_count(const struct vset *s);
/* Check the invariants of a set that came from outside. */
int	vset_check(const struct vset *s, char **err);
int	vset_equal(const struct vset *a, const struct vset *b);
/*
 * vset_equal, except for data: a dot names one write, so two sets that
 * hold the same dots hold the same data, read or not.
 */
int	vset_equal_headers(const struct vset *a, const struct vset *b);
/* Does every live version with data_len > 0 have its data here? */
int	vset_has_data(const struct vset *s);
/* Copy into dst the data src has of the versions dst holds without it. */
void	vset_fill_data(struct vset *dst, const struct vset *src);

/*
 * Which versions survive merge(a, b): keep_a[i] for a->v[i], keep_b[j] for
 * b->v[j] (a version both sides hold is kept once, from a).  The arrays
 * have a->n and b->n entries.  The merged cc is cc_union(a->cc, b->cc)
 * with the reqid of every version not kept retired.
 */
void	vset_merge_plan(const struct vset *a, const struct vset *b,
	    unsigned char *keep_a, unsigned char *keep_b);

/* out = merge(a, b), a deep copy; out must not alias a or b. */
void	vset_merge(const struct vset *a, const struct vset *b,
	    struct vset *out);

/* *dst = merge(*dst, src). */
void	vset_merge_into(struct vset *dst, const struct vset *src);

/*
 * For tests and fuzzers: the law of merge (commutative, associative,
 * idempotent, valid result) that a, b and c break, or NULL.
 */
const char *vset_merge_law_broken(const struct vset *a, const struct vset *b,
	    const struct vset *c);

/*
 * The delta of a write coordinated by node against the local set, with the
 * writer's context ctx (NULL: empty): the new version is a copy of tmpl
 * (its dot ignored) with the dot (node, c), c one past every counter of
 * node known to local or ctx; delta->cc is ctx plus that dot, with the
 * reqids of the local versions ctx replaces retired (so that replicas
 * holding another copy of them drop it too) and tmpl's own reqid not
 * retired.  A live version always gets data (tmpl->data NULL means "").
 * Merge the delta into every replica.
 */
void	vset_write_delta(const struct vset *local, const struct cc *ctx,
	    const char *node, const struct version *tmpl, struct vset *delta);

/*
 * Drop versions that repeat an earlier version's non-zero reqid: a client
 * retry that two coordinators both applied.  The dropped copies' dots
 * leave the cc too: the copy kept stands for them, through its reqid (see
 * vset_context_of).  A view for readers; merge never does it.
 */
void	vset_collapse_retries(struct vset *s);

/*
 * The context to hand a reader of s: s's cc with the reqid of each of s's
 * versions retired, so that a write with it replaces every copy of them.
 */
void	vset_context_of(const struct vset *s, struct cc *out);

/*
 * The context naming exactly the versions s->v[idx[0..nidx)]: s's cc less
 * the dots of every other version of s, with the reqids of the named ones
 * retired and of the others not.  A write with it replaces those versions
 * and leaves the other siblings alone.
 */
void	vset_context_for(const struct vset *s, const size_t *idx, size_t nidx,
	    struct cc *out);

#endif
