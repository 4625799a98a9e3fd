/*
 * lcache.h - a lookup's read of a key, kept for the call that follows it.
 *
 * The kernel sends LOOKUP before CREATE, OPEN, UNLINK and RENAME, and each
 * of those used to read the key again, a quorum round trip apiece, right
 * after the lookup's.  A lookup leaves its read here instead, and the next
 * call on the key takes it (once) if it is younger than the cache's age
 * limit: the entry and attribute timeouts, for which the kernel trusts the
 * lookup's answer anyway.  A taken read is the taker's; a read is never
 * served twice.
 *
 * Invariant: an entry never predates a write of its key by this mount.
 * Every write calls lcache_drop once it is done, and a read that was under
 * way meanwhile is refused by lcache_put (the ticket it took before
 * reading is stale), so a mount never builds a write on a read older than
 * its own last write.
 *
 * The table is direct-mapped by the key's hash: a key whose slot another
 * key takes is forgotten, a drop refuses puts for every key of its slot.
 * Either costs a round trip, never a wrong answer.
 *
 * Thread-safe.  Ownership: the cache owns a value from lcache_put until
 * lcache_take hands it back or it is evicted (freed by free_val).
 */
#ifndef FS_LCACHE_H
#define FS_LCACHE_H

#include <stddef.h>
#include <stdint.h>

struct lcache;

/*
 * A cache of nslots slots whose entries live max_age_ms (0: nothing is
 * ever kept).  free_val frees an evicted value.
 */
struct lcache *lcache_new(size_t nslots, int64_t max_age_ms,
	    void (*free_val)(void *));
void	lcache_free(struct lcache *c);

/* Taken before reading key: lcache_put refuses the read if key was
 * dropped since. */
uint64_t lcache_ticket(struct lcache *c, const char *key);
/* Keep val, a read of key, unless key was dropped since ticket (then val
 * is freed at once).  The cache owns val either way. */
void	lcache_put(struct lcache *c, const char *key, uint64_t ticket,
	    void *val);
/* key's entry if it is young enough: the caller owns it, and it leaves the
 * cache.  NULL if none. */
void	*lcache_take(struct lcache *c, const char *key);
/* This mount wrote key: forget what was read of it, and refuse reads that
 * began before now. */
void	lcache_drop(struct lcache *c, const char *key);

#endif
