/* diskpool.c - store calls on worker threads; see diskpool.h. */
#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "lib/xalloc.h"
#include "replication/diskpool.h"

struct diskpool_job {
	diskpool_fn	 work, done;
	void		*arg;
	struct diskpool_job	*next;
};

/* A FIFO of jobs. */
struct jobq {
	struct diskpool_job	*head, *tail;
};

struct diskpool {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	struct jobq	 todo, finished;
	int		 pending, stopping, nthreads;
	pthread_t	*threads;
	struct event	*finished_ev;	/* activated by workers */
};

static void
jobq_push(struct jobq *q, struct diskpool_job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct diskpool_job *
jobq_take_all(struct jobq *q)
{
	struct diskpool_job *j = q->head;

	q->head = q->tail = NULL;
	return j;
}

/*
 * Wake the loop for finished jobs; called with the lock held, which it
 * drops for the wakeup (the loop takes the lock first thing, and would
 * block on it) and takes again.  finished_ev lives as long as the pool.
 */
static void
finished_wake(struct diskpool *p)
{
	pthread_mutex_unlock(&p->lock);
	if (p->finished_ev != NULL)
		event_active(p->finished_ev, EV_READ, 0);
	pthread_mutex_lock(&p->lock);
}

static void *
worker_main(void *arg)
{
	struct diskpool *p = arg;
	struct diskpool_job *j;

	pthread_setname_np(pthread_self(), "disk-pool");
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->todo.head == NULL && !p->stopping)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->todo.head == NULL)
			break;
		j = p->todo.head;
		p->todo.head = j->next;
		if (p->todo.head == NULL)
			p->todo.tail = NULL;
		pthread_mutex_unlock(&p->lock);

		j->work(j->arg);

		pthread_mutex_lock(&p->lock);
		jobq_push(&p->finished, j);
		if (p->finished.head == j)
			finished_wake(p);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* On the loop: run done() of every finished job, in finishing order. */
static void
run_finished(evutil_socket_t fd, short what, void *arg)
{
	struct diskpool *p = arg;
	struct diskpool_job *j, *next;
	int n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->lock);
	j = jobq_take_all(&p->finished);
	pthread_mutex_unlock(&p->lock);
	for (n = 0; j != NULL; j = next, n++) {
		next = j->next;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
	pthread_mutex_lock(&p->lock);
	p->pending -= n;
	pthread_mutex_unlock(&p->lock);
}

struct diskpool *
diskpool_new(struct event_base *base, int nthreads)
{
	struct diskpool *p = xcalloc(1, sizeof(*p));
	int i;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->finished_ev = event_new(base, -1, 0, run_finished, p);
	p->nthreads = nthreads > 0 ? nthreads : 1;
	p->threads = xcalloc((size_t)p->nthreads, sizeof(*p->threads));
	for (i = 0; i < p->nthreads; i++)
		pthread_create(&p->threads[i], NULL, worker_main, p);
	return p;
}

void
diskpool_submit(struct diskpool *p, diskpool_fn work, diskpool_fn done,
    void *arg)
{
	struct diskpool_job *j;

	if (p->stopping) {
		/* Shutting down: a done() that submits more runs it here. */
		work(arg);
		if (done != NULL)
			done(arg);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	jobq_push(&p->todo, j);
	p->pending++;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_signal(&p->wake);	/* after: see store_submit */
}

int
diskpool_pending(struct diskpool *p)
{
	int n;

	pthread_mutex_lock(&p->lock);
	n = p->pending;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* Pass the batch's jobs, finished elsewhere, to the loop: one wakeup. */
void
diskpool_batch_add(struct diskpool_batch *b, diskpool_fn done, void *arg)
{
	struct diskpool_job *j = xcalloc(1, sizeof(*j));

	j->done = done;
	j->arg = arg;
	if (b->tail != NULL)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	b->n++;
}

void
diskpool_batch_post(struct diskpool *p, struct diskpool_batch *b)
{
	int wake;

	if (b->head == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	wake = p->finished.head == NULL;
	if (p->finished.tail != NULL)
		p->finished.tail->next = b->head;
	else
		p->finished.head = b->head;
	p->finished.tail = b->tail;
	p->pending += b->n;
	pthread_mutex_unlock(&p->lock);
	if (wake && p->finished_ev != NULL)
		event_active(p->finished_ev, EV_READ, 0);
	b->head = b->tail = NULL;
	b->n = 0;
}

int
diskpool_stopped(struct diskpool *p)
{
	return p->stopping;
}

void
diskpool_stop(struct diskpool *p)
{
	int i;

	if (p == NULL)
		return;
	if (p->threads == NULL) {
		/* Stopped already: run what was posted since. */
		run_finished(-1, 0, p);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	p->threads = NULL;
	run_finished(-1, 0, p);
}

void
diskpool_free(struct diskpool *p)
{
	if (p == NULL)
		return;
	diskpool_stop(p);
	event_free(p->finished_ev);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}
