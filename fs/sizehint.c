/*
 * sizehint.c - last seen sizes of regular files; see sizehint.h.
 *
 * Each slot holds the whole 64-bit hash of its key (0: empty) beside the
 * size, so two keys sharing a slot are told apart but for a hash
 * collision, which costs a wasted or a missed data read at worst.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/sizehint.h"
#include "lib/xalloc.h"
#include "store/key.h"

struct sh_slot {
	uint64_t	 tag;		/* the key's hash, never 0; 0: empty */
	uint64_t	 size;
};

struct sizehint {
	pthread_mutex_t	 lock;
	struct sh_slot	*slot;
	size_t		 nslots;
};

struct sizehint *
sizehint_new(size_t nslots)
{
	struct sizehint *h = xcalloc(1, sizeof(*h));

	pthread_mutex_init(&h->lock, NULL);
	h->nslots = nslots ? nslots : 1;
	h->slot = xcalloc(h->nslots, sizeof(*h->slot));
	return h;
}

void
sizehint_free(struct sizehint *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h->slot);
	free(h);
}

static uint64_t
tag_of(const char *key)
{
	uint64_t t = key_hash(key, strlen(key));

	return t ? t : 1;
}

void
sizehint_note(struct sizehint *h, const char *key, uint64_t size)
{
	uint64_t tag = tag_of(key);
	struct sh_slot *s = &h->slot[tag % h->nslots];

	pthread_mutex_lock(&h->lock);
	s->tag = tag;
	s->size = size;
	pthread_mutex_unlock(&h->lock);
}

void
sizehint_forget(struct sizehint *h, const char *key)
{
	uint64_t tag = tag_of(key);
	struct sh_slot *s = &h->slot[tag % h->nslots];

	pthread_mutex_lock(&h->lock);
	if (s->tag == tag)
		s->tag = 0;
	pthread_mutex_unlock(&h->lock);
}

int
sizehint_get(struct sizehint *h, const char *key, uint64_t *size)
{
	uint64_t tag = tag_of(key);
	struct sh_slot *s = &h->slot[tag % h->nslots];
	int found;

	pthread_mutex_lock(&h->lock);
	found = s->tag == tag;
	if (found)
		*size = s->size;
	pthread_mutex_unlock(&h->lock);
	return found;
}
