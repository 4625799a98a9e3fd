/*
 * throttle.h - a byte budget per second for background work (range
 * transfers, cleanup, anti-entropy), so foreground requests keep the disk
 * and the network: the thread doing the work counts what it moves and
 * sleeps out the rest of a second whose budget it has spent.
 *
 * One throttle belongs to one thread; it blocks, so never use it on the
 * event loop.
 */
#ifndef LIB_THROTTLE_H
#define LIB_THROTTLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct throttle {
	int64_t		window_ms;	/* start of the current second */
	uint64_t	bytes;		/* moved in it */
};

/* Start a fresh second. */
void	throttle_start(struct throttle *t);
/*
 * Count bytes against rate bytes per second; once the second's budget is
 * spent, sleep until the second is over, in 50 ms steps that end early
 * once *stop (if stop is not NULL) is non-zero.
 */
void	throttle_account(struct throttle *t, uint64_t rate, size_t bytes,
	    const atomic_int *stop);

#endif
