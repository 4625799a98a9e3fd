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

struct cc {
	struct cc_entry	*e;		/* ascending by node (strcmp) */
	size_t		 n;
};

struct version {
	struct dot	 dot;
	int64_t		 ts_us;		/* coordinator's wall clock; display only */
	uint64_t	 reqid;		/* client's request id; 0: none */
	int		 tombstone;
	void		*meta;
	size_t		 meta_len;
	void		*data;		/* NULL when not loaded (see data_len) */
	size_t		 data_len;
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
void	cc_union(struct cc *dst, const struct cc *src);
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
/* Insert a copy of v keeping dot order; the caller keeps the cc right. */
void	vset_insert(struct vset *s, const struct version *v);
/* Number of versions that are not tombstones. */
size_t	vset_live_count(const struct vset *s);
/* Check the invariants of a set that came from outside. */
int	vset_check(const struct vset *s, char **err);
int	vset_equal(const struct vset *a, const struct vset *b);

/*
 * Which versions survive merge(a, b): keep_a[i] for a->v[i], keep_b[j] for
 * b->v[j] (a version both sides hold is kept once, from a).  The arrays
 * have a->n and b->n entries.  The merged cc is cc_union(a->cc, b->cc).
 */
void	vset_merge_plan(const struct vset *a, const struct vset *b,
	    unsigned char *keep_a, unsigned char *keep_b);

/* out = merge(a, b), a deep copy; out must not alias a or b. */
void	vset_merge(const struct vset *a, const struct vset *b,
	    struct vset *out);

/*
 * The delta of a write coordinated by node against the local set, with the
 * writer's context ctx (NULL: empty): the new version is a copy of tmpl
 * (its dot ignored) with the dot (node, c), c one past every counter of
 * node known to local or ctx; delta->cc is ctx plus that dot.  A live
 * version always gets data (tmpl->data NULL means "").  Merge the delta
 * into every replica.
 */
void	vset_write_delta(const struct vset *local, const struct cc *ctx,
	    const char *node, const struct version *tmpl, struct vset *delta);

/*
 * Drop versions that repeat an earlier version's non-zero reqid: a client
 * retry that two coordinators both applied.  The cc is kept whole, so a
 * context read from the result still covers the dropped duplicates and the
 * next write replaces them too.  A view for readers; merge never does it.
 */
void	vset_collapse_retries(struct vset *s);

/*
 * The context naming exactly the versions s->v[idx[0..nidx)]: s's cc less
 * the dots of every other version of s.  A write with it replaces those
 * versions and leaves the other siblings alone.
 */
void	vset_context_for(const struct vset *s, const size_t *idx, size_t nidx,
	    struct cc *out);

#endif
