/*
 * diskpool.h - worker threads for store calls, so the event loop never
 * waits on the disk.
 *
 * A job is a pair of functions: work() runs on a worker thread (it may block
 * on LevelDB and fsync), then done() runs on the event loop's thread.  The
 * job's argument belongs to the caller throughout; done() usually frees it.
 * Changes of records do not come here: the store's own writer thread runs
 * them (group commit, see store.h) and posts their done()s to the loop
 * through a batch (diskpool_batch_post); reads of small values run on the
 * loop.  The pool runs big reads, listings, scans, hints and anti-entropy.
 *
 * Requires evthread_use_pthreads() before the event base is created.
 */
#ifndef REPLICATION_DISKPOOL_H
#define REPLICATION_DISKPOOL_H

#include <event2/event.h>

struct diskpool;

typedef void (*diskpool_fn)(void *arg);

struct diskpool	*diskpool_new(struct event_base *base, int nthreads);
void		 diskpool_submit(struct diskpool *p, diskpool_fn work,
		    diskpool_fn done, void *arg);
/*
 * Jobs finished by another thread (the store's writer): that thread adds
 * each one's done() to a batch it owns, then posts the whole batch, whose
 * done()s run on the loop after one wakeup, in order.
 */
struct diskpool_job;
struct diskpool_batch {
	struct diskpool_job	*head, *tail;
	int			 n;
};
void		 diskpool_batch_add(struct diskpool_batch *b,
		    diskpool_fn done, void *arg);
void		 diskpool_batch_post(struct diskpool *p,
		    struct diskpool_batch *b);
/* 1 once diskpool_stop has begun: run work inline from then on. */
int		 diskpool_stopped(struct diskpool *p);
/* Jobs queued or running, for stats and for a clean shutdown. */
int		 diskpool_pending(struct diskpool *p);
/*
 * Stop: finish every queued job (their done() runs here, on the caller's
 * thread) and join the workers.  Jobs submitted after this run at once on
 * the caller's thread, so shutdown paths need no special case.
 */
void		 diskpool_stop(struct diskpool *p);
/* (Called again, it runs the done() of batches posted since.) */
/* Stop if not stopped, and free the pool. */
void		 diskpool_free(struct diskpool *p);

#endif
