/*
 * unsettled.c - failed writes whose version may exist; see unsettled.h.
 *
 * Failures are rare, so the table is an array searched end to end, kept
 * in the order entries were made (the oldest first, dropped first).
 * Each entry's ticket changes with every failure noted in it, so a
 * success settles only what its own context covered.
 */
#include <sys/types.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/unsettled.h"
#include "lib/xalloc.h"

struct unsettled_entry {
	char		*key;
	struct cc	 cc;		/* the failed writes' versions */
	uint64_t	 ticket;
};

struct unsettled {
	pthread_mutex_t		 lock;
	struct unsettled_entry	*e;
	size_t			 n, max;
	uint64_t		 next_ticket;
};

struct unsettled *
unsettled_new(size_t max_keys)
{
	struct unsettled *u = xcalloc(1, sizeof(*u));

	pthread_mutex_init(&u->lock, NULL);
	u->max = max_keys ? max_keys : 1;
	u->e = xcalloc(u->max, sizeof(*u->e));
	u->next_ticket = 1;
	return u;
}

static void
entry_drop(struct unsettled *u, size_t i)
{
	free(u->e[i].key);
	cc_release(&u->e[i].cc);
	memmove(&u->e[i], &u->e[i + 1], (u->n - i - 1) * sizeof(*u->e));
	u->n--;
}

void
unsettled_free(struct unsettled *u)
{
	if (u == NULL)
		return;
	while (u->n > 0)
		entry_drop(u, u->n - 1);
	pthread_mutex_destroy(&u->lock);
	free(u->e);
	free(u);
}

/* key's entry, or -1 (lock held). */
static ssize_t
entry_find(const struct unsettled *u, const char *key)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		if (strcmp(u->e[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

void
unsettled_note(struct unsettled *u, const char *key, const struct dot *d)
{
	ssize_t i;

	pthread_mutex_lock(&u->lock);
	if ((i = entry_find(u, key)) < 0) {
		if (u->n == u->max)
			entry_drop(u, 0);
		i = (ssize_t)u->n++;
		u->e[i].key = xstrdup(key);
		cc_init(&u->e[i].cc);
	}
	cc_add(&u->e[i].cc, d->node, d->counter);
	u->e[i].ticket = u->next_ticket++;
	pthread_mutex_unlock(&u->lock);
}

uint64_t
unsettled_cover(struct unsettled *u, const char *key, struct cc *cc)
{
	uint64_t ticket = 0;
	ssize_t i;

	pthread_mutex_lock(&u->lock);
	if (u->n > 0 && (i = entry_find(u, key)) >= 0) {
		cc_union(cc, &u->e[i].cc);
		ticket = u->e[i].ticket;
	}
	pthread_mutex_unlock(&u->lock);
	return ticket;
}

void
unsettled_settle(struct unsettled *u, const char *key, uint64_t ticket)
{
	ssize_t i;

	if (ticket == 0)
		return;
	pthread_mutex_lock(&u->lock);
	if ((i = entry_find(u, key)) >= 0 && u->e[i].ticket == ticket)
		entry_drop(u, (size_t)i);
	pthread_mutex_unlock(&u->lock);
}

size_t
unsettled_count(struct unsettled *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = u->n;
	pthread_mutex_unlock(&u->lock);
	return n;
}
