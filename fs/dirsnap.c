/*
 * dirsnap.c - directories' names as last listed; see dirsnap.h.
 *
 * One mutex guards the table; each slot holds one directory: its key, an
 * open-addressed set of its names' hashes, when its last listing began,
 * and whether one is under way.  A listing under way keeps its slot (no
 * other directory takes it), so dirsnap_end always finds it.
 *
 * A directory may sit in any of the DIRSNAP_WAYS slots of the group its
 * hash picks, and a new one takes a free slot of the group, else the one
 * listed longest ago.  With one slot per directory hash (direct mapping)
 * two directories filled at once whose hashes met took the slot from each
 * other at every lookup, and each of their creates paid a head, a listing
 * along with it and a listing of the directory (seen: 4 writers' 4
 * directories in 64 slots, 848 listings for 1,000 creates instead of 24;
 * 4 names in 64 slots meet in 9% of runs).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/dirsnap.h"
#include "lib/clock.h"
#include "lib/xalloc.h"
#include "store/key.h"

struct ds_slot {
	char		*dir;		/* NULL: empty */
	uint64_t	*h;		/* names' hashes; 0: a free cell */
	size_t		 cap, n;	/* cap: 0 or a power of 2 */
	int64_t		 listed_at;	/* the last listing's start; 0: none */
	int64_t		 begun_at;	/* the one under way's start */
	int		 listing;	/* one is under way */
	int64_t		 off_until;
};

struct dirsnap {
	pthread_mutex_t	 lock;
	struct ds_slot	*slot;
	size_t		 nslots;
	int64_t		 max_age_ms;
	size_t		 max_names;
};

struct dirsnap *
dirsnap_new(size_t nslots, int64_t max_age_ms, size_t max_names)
{
	struct dirsnap *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	s->nslots = max_age_ms > 0 ? nslots : 0;
	s->slot = s->nslots ? xcalloc(s->nslots, sizeof(*s->slot)) : NULL;
	s->max_age_ms = max_age_ms;
	s->max_names = max_names;
	return s;
}

static void
slot_forget_names(struct ds_slot *d)
{
	free(d->h);
	d->h = NULL;
	d->cap = d->n = 0;
	d->listed_at = 0;
}

void
dirsnap_free(struct dirsnap *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nslots; i++) {
		slot_forget_names(&s->slot[i]);
		free(s->slot[i].dir);
	}
	free(s->slot);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t
dirsnap_max_names(const struct dirsnap *s)
{
	return s->max_names;
}

/* key's directory (its length in *dlen: "/" for the root's children) and
 * name. */
static const char *
dir_name_split(const char *key, size_t *dlen)
{
	const char *slash = strrchr(key, '/');

	if (slash == NULL) {
		*dlen = 0;
		return key;
	}
	*dlen = slash == key ? 1 : (size_t)(slash - key);
	return slash + 1;
}

static uint64_t
name_hash(const char *name)
{
	uint64_t h = key_hash(name, strlen(name));

	return h ? h : 1;		/* 0 marks a free cell */
}

/* The slots directory dir (dlen bytes) may sit in: *ways from this one. */
static struct ds_slot *
slot_group(struct dirsnap *s, const char *dir, size_t dlen, size_t *ways)
{
	*ways = s->nslots < DIRSNAP_WAYS ? s->nslots : DIRSNAP_WAYS;
	return &s->slot[key_hash(dir, dlen) % (s->nslots / *ways) * *ways];
}

/* The slot holding directory dir (dlen bytes), or NULL. */
static struct ds_slot *
slot_of(struct dirsnap *s, const char *dir, size_t dlen)
{
	size_t i, ways;
	struct ds_slot *g = slot_group(s, dir, dlen, &ways);

	for (i = 0; i < ways; i++)
		if (g[i].dir != NULL && strlen(g[i].dir) == dlen &&
		    memcmp(g[i].dir, dir, dlen) == 0)
			return &g[i];
	return NULL;
}

/*
 * A slot of dir's group that dir may take (lock held): a free one, else
 * the one listed longest ago; never one with a listing under way, nor one
 * a big directory keeps (off_until).  NULL if there is none.
 */
static struct ds_slot *
slot_victim(struct dirsnap *s, const char *dir, size_t dlen, int64_t now)
{
	size_t i, ways;
	struct ds_slot *g = slot_group(s, dir, dlen, &ways), *v = NULL;

	for (i = 0; i < ways; i++) {
		if (g[i].dir == NULL)
			return &g[i];
		if (g[i].listing || g[i].off_until > now)
			continue;
		if (v == NULL || g[i].listed_at < v->listed_at)
			v = &g[i];
	}
	return v;
}

static int
set_has(const struct ds_slot *d, uint64_t h)
{
	size_t i;

	if (d->cap == 0)
		return 0;
	for (i = h & (d->cap - 1); d->h[i] != 0; i = (i + 1) & (d->cap - 1))
		if (d->h[i] == h)
			return 1;
	return 0;
}

static void set_add(struct ds_slot *d, uint64_t h);

static void
set_grow(struct ds_slot *d)
{
	uint64_t *old = d->h;
	size_t i, ocap = d->cap;

	d->cap = ocap ? ocap * 2 : 64;
	d->h = xcalloc(d->cap, sizeof(*d->h));
	d->n = 0;
	for (i = 0; i < ocap; i++)
		if (old[i] != 0)
			set_add(d, old[i]);
	free(old);
}

static void
set_add(struct ds_slot *d, uint64_t h)
{
	size_t i;

	if (2 * (d->n + 1) > d->cap)
		set_grow(d);
	for (i = h & (d->cap - 1); d->h[i] != 0; i = (i + 1) & (d->cap - 1))
		if (d->h[i] == h)
			return;
	d->h[i] = h;
	d->n++;
}

/* d's listings cannot be used for a while (lock held). */
static void
slot_back_off(struct ds_slot *d, int64_t now)
{
	slot_forget_names(d);
	d->off_until = now + DIRSNAP_BACKOFF_MS;
}

/* The slot holding key's directory, or NULL (lock held); *h is the hash
 * of key's name. */
static struct ds_slot *
slot_of_key(struct dirsnap *s, const char *key, uint64_t *h)
{
	size_t dlen;
	const char *name = dir_name_split(key, &dlen);

	*h = name_hash(name);
	return slot_of(s, key, dlen);
}

int
dirsnap_absent(struct dirsnap *s, const char *key)
{
	struct ds_slot *d;
	uint64_t h;
	int absent = 0;

	if (s->nslots == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	d = slot_of_key(s, key, &h);
	if (d != NULL && d->listed_at != 0 &&
	    mono_ms() - d->listed_at < s->max_age_ms)
		absent = !set_has(d, h);
	pthread_mutex_unlock(&s->lock);
	return absent;
}

/*
 * The slot for key's directory, given to it if no slot held it (lock
 * held), or NULL when it cannot be had now: a listing of it is under way,
 * or every slot it may take is busy (slot_victim).
 */
static struct ds_slot *
slot_claim(struct dirsnap *s, const char *key, int64_t now)
{
	struct ds_slot *d;
	size_t dlen;

	(void)dir_name_split(key, &dlen);
	if ((d = slot_of(s, key, dlen)) != NULL)
		return d->listing ? NULL : d;
	if ((d = slot_victim(s, key, dlen, now)) == NULL)
		return NULL;
	slot_forget_names(d);
	free(d->dir);
	d->dir = xstrndup(key, dlen);
	d->off_until = 0;
	return d;
}

int
dirsnap_begin(struct dirsnap *s, const char *key, char **dir)
{
	int64_t now = mono_ms();
	struct ds_slot *d;
	int go = 0;

	*dir = NULL;
	if (s->nslots == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	if ((d = slot_claim(s, key, now)) == NULL)
		goto out;
	if (d->off_until > now ||
	    (d->listed_at != 0 && now - d->listed_at < s->max_age_ms))
		goto out;
	d->listing = 1;
	d->begun_at = now;
	*dir = xstrdup(d->dir);
	go = 1;
out:
	pthread_mutex_unlock(&s->lock);
	return go;
}

void
dirsnap_end(struct dirsnap *s, const char *dir, char *const *names,
    size_t n, enum dirsnap_result res)
{
	int64_t now = mono_ms();
	struct ds_slot *d;
	size_t i;

	pthread_mutex_lock(&s->lock);
	d = slot_of(s, dir, strlen(dir));
	if (d == NULL || !d->listing)
		goto out;		/* cannot happen: the slot was kept */
	d->listing = 0;
	if (res == DIRSNAP_LISTED && (n > s->max_names ||
	    d->off_until > now))
		res = DIRSNAP_TOO_BIG;	/* by the listing, or by notes */
	if (res == DIRSNAP_TOO_BIG)
		slot_back_off(d, now);
	if (res != DIRSNAP_LISTED)
		goto out;
	for (i = 0; i < n; i++)
		set_add(d, name_hash(names[i]));
	if (d->n > s->max_names)
		slot_back_off(d, now);
	else
		d->listed_at = d->begun_at;
out:
	pthread_mutex_unlock(&s->lock);
}

void
dirsnap_note(struct dirsnap *s, const char *key)
{
	struct ds_slot *d;
	uint64_t h;

	if (s->nslots == 0)
		return;
	pthread_mutex_lock(&s->lock);
	/* A slot with no listing yet keeps notes too: one may be under
	 * way, and must not lose a name this mount wrote meanwhile. */
	if ((d = slot_of_key(s, key, &h)) != NULL) {
		set_add(d, h);
		if (d->n > s->max_names)
			slot_back_off(d, mono_ms());
	}
	pthread_mutex_unlock(&s->lock);
}

void
dirsnap_implied(struct dirsnap *s, const char *key)
{
	int64_t now = mono_ms();
	struct ds_slot *d;
	uint64_t h;

	if (s->nslots == 0)
		return;
	pthread_mutex_lock(&s->lock);
	/* A listing under way ends in the back-off too (dirsnap_end). */
	if ((d = slot_of_key(s, key, &h)) != NULL ||
	    (d = slot_claim(s, key, now)) != NULL)
		slot_back_off(d, now);
	pthread_mutex_unlock(&s->lock);
}
