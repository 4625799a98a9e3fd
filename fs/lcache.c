/*
 * lcache.c - reads kept from a lookup for the next call; see lcache.h.
 *
 * One mutex guards the table: every operation is a hash and a few stores.
 * Values are freed outside it.  Entries nobody takes (a stat's lookup)
 * stay until their slot is reused or a put's sweep, which looks at the
 * next SWEEP slots past the last it looked at, finds them expired: with a
 * lookup a put, a busy mount holds no old read for long.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/lcache.h"
#include "lib/clock.h"
#include "lib/xalloc.h"
#include "store/key.h"

#define SWEEP	2

struct lc_slot {
	char		*key;		/* NULL: empty */
	void		*val;
	int64_t		 at_ms;		/* when it was put */
	uint64_t	 gen;		/* drops of this slot so far */
};

struct lcache {
	pthread_mutex_t	 lock;
	struct lc_slot	*slot;
	size_t		 nslots;
	size_t		 hand;		/* the sweep's next slot */
	int64_t		 max_age_ms;
	void		(*free_val)(void *);
};

struct lcache *
lcache_new(size_t nslots, int64_t max_age_ms, void (*free_val)(void *))
{
	struct lcache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->nslots = nslots ? nslots : 1;
	c->slot = xcalloc(c->nslots, sizeof(*c->slot));
	c->max_age_ms = max_age_ms;
	c->free_val = free_val;
	return c;
}

void
lcache_free(struct lcache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nslots; i++) {
		free(c->slot[i].key);
		if (c->slot[i].val != NULL)
			c->free_val(c->slot[i].val);
	}
	free(c->slot);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static struct lc_slot *
slot_of(struct lcache *c, const char *key)
{
	return &c->slot[key_hash(key, strlen(key)) % c->nslots];
}

/* Empty s (lock held); its value is returned for the caller to free. */
static void *
slot_clear(struct lc_slot *s)
{
	void *val = s->val;

	free(s->key);
	s->key = NULL;
	s->val = NULL;
	return val;
}

static int
slot_young(const struct lcache *c, const struct lc_slot *s, int64_t now)
{
	return s->key != NULL && now - s->at_ms < c->max_age_ms;
}

uint64_t
lcache_ticket(struct lcache *c, const char *key)
{
	uint64_t gen;

	pthread_mutex_lock(&c->lock);
	gen = slot_of(c, key)->gen;
	pthread_mutex_unlock(&c->lock);
	return gen;
}

void
lcache_put(struct lcache *c, const char *key, uint64_t ticket, void *val)
{
	void *gone[1 + SWEEP];
	size_t ngone = 0, i;
	int64_t now = mono_ms();
	struct lc_slot *s;

	if (c->max_age_ms <= 0) {
		c->free_val(val);
		return;
	}
	pthread_mutex_lock(&c->lock);
	s = slot_of(c, key);
	if (s->gen != ticket)
		gone[ngone++] = val;	/* written meanwhile: stale */
	else {
		gone[ngone++] = slot_clear(s);
		s->key = xstrdup(key);
		s->val = val;
		s->at_ms = now;
	}
	for (i = 0; i < SWEEP; i++) {
		struct lc_slot *o = &c->slot[c->hand];

		c->hand = (c->hand + 1) % c->nslots;
		if (o->key != NULL && !slot_young(c, o, now))
			gone[ngone++] = slot_clear(o);
	}
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < ngone; i++)
		if (gone[i] != NULL)
			c->free_val(gone[i]);
}

void *
lcache_take(struct lcache *c, const char *key)
{
	struct lc_slot *s;
	void *val = NULL, *old = NULL;

	pthread_mutex_lock(&c->lock);
	s = slot_of(c, key);
	if (s->key != NULL && strcmp(s->key, key) == 0) {
		if (!slot_young(c, s, mono_ms()))
			old = slot_clear(s);
		else
			val = slot_clear(s);
	}
	pthread_mutex_unlock(&c->lock);
	if (old != NULL)
		c->free_val(old);
	return val;
}

void
lcache_drop(struct lcache *c, const char *key)
{
	struct lc_slot *s;
	void *old = NULL;

	pthread_mutex_lock(&c->lock);
	s = slot_of(c, key);
	s->gen++;
	if (s->key != NULL && strcmp(s->key, key) == 0)
		old = slot_clear(s);
	pthread_mutex_unlock(&c->lock);
	if (old != NULL)
		c->free_val(old);
}
