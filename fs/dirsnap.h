/*
 * dirsnap.h - the names a directory had when this mount last listed it,
 * so that a lookup of a name it lacked is answered without the cluster.
 *
 * A create in a directory starts with the kernel's LOOKUP of the missing
 * name, and proving a name missing costs a quorum round trip (its head
 * and the listing of its would-be children) before the create's own
 * write.  A directory being filled with new files (cp -r, tar x, a build)
 * is instead listed once, and for max_age_ms after that listing began a
 * name neither in it nor written by this mount since is answered as
 * missing at once: what the kernel's own negative entry promises for the
 * entry timeout, no more.  A name another client writes after the listing
 * began may be answered missing until then; a create of it here then
 * makes a second version (a sibling), never a lost one.
 *
 * The listing holds every name the directory had, tombstones included,
 * with R + W > N every acknowledged write (coord_list): a name it shows
 * is never answered here.  It does not show a directory implied by keys
 * below it (never written itself: quorumctl put /d/x/k), which is
 * answered missing while the listing is young unless a lookup found one
 * in the directory already (dirsnap_implied): then the directory is not
 * listed for DIRSNAP_BACKOFF_MS.  Names are kept as 64-bit hashes: a collision
 * makes a missing name look present, which costs the round trip, never
 * a wrong answer.  Names only ever join a snapshot (a refetch adds to
 * it), so a name removed elsewhere costs its lookup the round trip too.
 *
 * Bounds: at most nslots directories, each in one of the DIRSNAP_WAYS
 * slots of a group its hash picks (a directory whose slot another takes,
 * the group's listed longest ago, is forgotten); a directory
 * of more than max_names names is not kept, and not listed again for
 * DIRSNAP_BACKOFF_MS (nor is its slot given to another directory
 * meanwhile); a directory is listed by one thread at a time, at
 * most once per max_age_ms while lookups in it keep missing.
 *
 * Thread-safe.  Keys are store keys ("/a/b"; the root's children "/b").
 */
#ifndef FS_DIRSNAP_H
#define FS_DIRSNAP_H

#include <stddef.h>
#include <stdint.h>

/* A directory found too big, or with an implied directory in it, is not
 * listed for this long. */
#define DIRSNAP_BACKOFF_MS	60000
/* The slots a directory may sit in (fewer if nslots is smaller). */
#define DIRSNAP_WAYS		4

struct dirsnap;

/* nslots 0 or max_age_ms <= 0: nothing is ever kept. */
struct dirsnap *dirsnap_new(size_t nslots, int64_t max_age_ms,
	    size_t max_names);
void	dirsnap_free(struct dirsnap *s);

/*
 * 1 if key's directory has a listing younger than max_age_ms (from its
 * start) in which key's name is not, nor was key written since (noted),
 * else 0.
 */
int	dirsnap_absent(struct dirsnap *s, const char *key);

/*
 * 1 if key's directory should be listed now (no young listing, none under
 * way, not found too big lately): the caller lists it and must call
 * dirsnap_end.  *dir is the directory's key (malloc'd, the caller's).
 */
int	dirsnap_begin(struct dirsnap *s, const char *key, char **dir);

/* The outcome of the listing dirsnap_begin asked for. */
enum dirsnap_result {
	DIRSNAP_LISTED,		/* names[0..n) is every child */
	DIRSNAP_TOO_BIG,	/* more than max_names children */
	DIRSNAP_FAILED		/* the listing failed: nothing learnt */
};
void	dirsnap_end(struct dirsnap *s, const char *dir, char *const *names,
	    size_t n, enum dirsnap_result res);

/* This mount wrote key (or tried to): its directory's snapshot has it. */
void	dirsnap_note(struct dirsnap *s, const char *key);
/* key is a directory implied by keys below it: its directory's listings
 * cannot tell, so they are not taken nor used for DIRSNAP_BACKOFF_MS
 * (the directory takes a slot for that, if no listing is under way in
 * it and it keeps no other directory from being listed). */
void	dirsnap_implied(struct dirsnap *s, const char *key);

/* The most names a snapshot holds (dirsnap_new's max_names). */
size_t	dirsnap_max_names(const struct dirsnap *s);

#endif
