/*
 * unsettled.h - this mount's writes that failed after the cluster had
 * named their version.  Such a version may exist on the replicas that
 * synced it, and reach the others later (read repair, anti-entropy),
 * although the user was told the write failed.  The mount's next write of
 * the key (the file written again, removed, renamed away) puts those
 * versions in its context, so it replaces them rather than standing
 * beside them as a sibling: a file whose write failed and that the user
 * then removes stays removed.
 *
 * A small table by key.  When it is full the oldest entry goes, and that
 * version may come back as a sibling, as it would without the table.
 * Thread-safe.
 */
#ifndef FS_UNSETTLED_H
#define FS_UNSETTLED_H

#include <stddef.h>
#include <stdint.h>

#include "store/causal.h"

struct unsettled;

struct unsettled *unsettled_new(size_t max_keys);
void	unsettled_free(struct unsettled *u);

/* A write of key failed; d names its version. */
void	unsettled_note(struct unsettled *u, const char *key,
	    const struct dot *d);
/*
 * Add the failed versions of key to cc, the context of a write about to
 * be sent.  Returns a ticket for unsettled_settle, 0 when there were none.
 */
uint64_t unsettled_cover(struct unsettled *u, const char *key,
	    struct cc *cc);
/*
 * The write whose context unsettled_cover gave ticket succeeded: the
 * versions it covered are replaced.  (A failure noted since stays.)
 */
void	unsettled_settle(struct unsettled *u, const char *key,
	    uint64_t ticket);
/* Keys held (for tests). */
size_t	unsettled_count(struct unsettled *u);

#endif
