/*
 * inode.c - the inode table; see inode.h.
 *
 * Two chained hash tables share the nodes: by id (every node) and by path
 * (nodes not detached).  Both grow by doubling at a load of 1, so a
 * directory of 100,000 entries listed with readdirplus stays O(1) a node.
 */
#include <stdlib.h>
#include <string.h>

#include "fs/inode.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

struct stale_name {
	char		*path;
	int64_t		 until_ms;
};

struct itab {
	pthread_mutex_t	  lock;
	struct qnode	**by_ino, **by_path;
	size_t		  nbuckets;	/* a power of 2, both tables */
	size_t		  count;
	uint64_t	  next_ino;
	itab_local_free_fn local_free;
	struct stale_name *stale;	/* few: sibling names gone stale */
	size_t		  nstale;
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static size_t
slot_ino(const struct itab *t, uint64_t ino)
{
	return (size_t)((ino * 11400714819323198485ULL) >> 20) &
	    (t->nbuckets - 1);
}

static size_t
slot_path(const struct itab *t, const char *path)
{
	return (size_t)hash_str(path) & (t->nbuckets - 1);
}

static void
path_insert(struct itab *t, struct qnode *q)
{
	size_t s = slot_path(t, q->path);

	q->next_path = t->by_path[s];
	t->by_path[s] = q;
	q->detached = 0;
}

static void
path_remove(struct itab *t, struct qnode *q)
{
	struct qnode **pp;

	if (q->detached)
		return;
	for (pp = &t->by_path[slot_path(t, q->path)]; *pp; pp = &(*pp)->next_path)
		if (*pp == q) {
			*pp = q->next_path;
			break;
		}
	q->next_path = NULL;
	q->detached = 1;
}

static void
grow(struct itab *t)
{
	struct qnode **old = t->by_ino, *q, *next;
	size_t n = t->nbuckets, i;

	t->nbuckets *= 2;
	t->by_ino = xcalloc(t->nbuckets, sizeof(*t->by_ino));
	free(t->by_path);
	t->by_path = xcalloc(t->nbuckets, sizeof(*t->by_path));
	for (i = 0; i < n; i++)
		for (q = old[i]; q; q = next) {
			size_t s = slot_ino(t, q->ino);

			next = q->next_ino;
			q->next_ino = t->by_ino[s];
			t->by_ino[s] = q;
			if (!q->detached)
				path_insert(t, q);
		}
	free(old);
}

static struct qnode *
node_new(struct itab *t, const char *path, const char *key,
    const struct dot *pin)
{
	struct qnode *q = xcalloc(1, sizeof(*q));
	size_t s;

	if (t->count + 1 > t->nbuckets)
		grow(t);
	q->ino = t->next_ino++;
	q->key = xstrdup(key);
	q->path = xstrdup(path);
	if (pin != NULL) {
		q->pinned = 1;
		q->pin.node = xstrdup(pin->node);
		q->pin.counter = pin->counter;
	}
	pthread_mutex_init(&q->lock, NULL);
	s = slot_ino(t, q->ino);
	q->next_ino = t->by_ino[s];
	t->by_ino[s] = q;
	path_insert(t, q);
	t->count++;
	return q;
}

static void
node_free(struct itab *t, struct qnode *q)
{
	if (q->local != NULL)
		t->local_free(q->local);
	pthread_mutex_destroy(&q->lock);
	dot_release(&q->pin);
	free(q->key);
	free(q->path);
	free(q);
}

/* Free q if nothing refers to it any more (the table's lock held). */
static void
node_maybe_free(struct itab *t, struct qnode *q)
{
	struct qnode **pp;

	if (q->nlookup > 0 || q->refs > 0 || q->ino == 1)
		return;
	path_remove(t, q);
	for (pp = &t->by_ino[slot_ino(t, q->ino)]; *pp; pp = &(*pp)->next_ino)
		if (*pp == q) {
			*pp = q->next_ino;
			break;
		}
	t->count--;
	node_free(t, q);
}

struct itab *
itab_new(itab_local_free_fn local_free)
{
	struct itab *t = xcalloc(1, sizeof(*t));
	struct qnode *root;

	pthread_mutex_init(&t->lock, NULL);
	t->nbuckets = 1024;
	t->by_ino = xcalloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_path = xcalloc(t->nbuckets, sizeof(*t->by_path));
	t->next_ino = 1;
	t->local_free = local_free;
	root = node_new(t, "/", "/", NULL);
	root->nlookup = 1;
	return t;
}

void
itab_free(struct itab *t)
{
	size_t i;
	struct qnode *q, *next;

	if (t == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (q = t->by_ino[i]; q; q = next) {
			next = q->next_ino;
			node_free(t, q);
		}
	for (i = 0; i < t->nstale; i++)
		free(t->stale[i].path);
	free(t->stale);
	free(t->by_ino);
	free(t->by_path);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct qnode *
find_ino(struct itab *t, uint64_t ino)
{
	struct qnode *q;

	for (q = t->by_ino[slot_ino(t, ino)]; q; q = q->next_ino)
		if (q->ino == ino)
			return q;
	return NULL;
}

static struct qnode *
find_path(struct itab *t, const char *path)
{
	struct qnode *q;

	for (q = t->by_path[slot_path(t, path)]; q; q = q->next_path)
		if (strcmp(q->path, path) == 0)
			return q;
	return NULL;
}

struct qnode *
itab_get(struct itab *t, uint64_t ino)
{
	struct qnode *q;

	pthread_mutex_lock(&t->lock);
	if ((q = find_ino(t, ino)) != NULL)
		q->refs++;
	pthread_mutex_unlock(&t->lock);
	return q;
}

struct qnode *
itab_find(struct itab *t, const char *path)
{
	struct qnode *q;

	pthread_mutex_lock(&t->lock);
	if ((q = find_path(t, path)) != NULL)
		q->refs++;
	pthread_mutex_unlock(&t->lock);
	return q;
}

void
itab_put(struct itab *t, struct qnode *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	q->refs--;
	node_maybe_free(t, q);
	pthread_mutex_unlock(&t->lock);
}

struct qnode *
itab_lookup(struct itab *t, const char *path, const char *key,
    const struct dot *pin)
{
	struct qnode *q;

	pthread_mutex_lock(&t->lock);
	q = find_path(t, path);
	if (q != NULL && (q->pinned != (pin != NULL) || (pin != NULL &&
	    dot_compare(&q->pin, pin) != 0) || strcmp(q->key, key) != 0)) {
		path_remove(t, q);
		q = NULL;
	}
	if (q == NULL)
		q = node_new(t, path, key, pin);
	q->nlookup++;
	q->refs++;
	pthread_mutex_unlock(&t->lock);
	return q;
}

void
itab_forget(struct itab *t, uint64_t ino, uint64_t n)
{
	struct qnode *q;

	pthread_mutex_lock(&t->lock);
	if ((q = find_ino(t, ino)) != NULL) {
		q->nlookup = n > q->nlookup ? 0 : q->nlookup - n;
		node_maybe_free(t, q);
	}
	pthread_mutex_unlock(&t->lock);
}

void
itab_detach(struct itab *t, const char *path)
{
	struct qnode *q;

	pthread_mutex_lock(&t->lock);
	if ((q = find_path(t, path)) != NULL)
		path_remove(t, q);
	pthread_mutex_unlock(&t->lock);
}

void
itab_move(struct itab *t, struct qnode *q, const char *to)
{
	struct qnode *old;

	pthread_mutex_lock(&t->lock);
	if ((old = find_path(t, to)) != NULL && old != q)
		path_remove(t, old);
	path_remove(t, q);
	free(q->path);
	free(q->key);
	q->path = xstrdup(to);
	q->key = xstrdup(to);
	if (q->pinned) {
		dot_release(&q->pin);
		q->pinned = 0;
	}
	path_insert(t, q);
	pthread_mutex_unlock(&t->lock);
}

void
itab_name(struct itab *t, const struct qnode *q, struct qname *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&t->lock);
	out->key = xstrdup(q->key);
	out->path = xstrdup(q->path);
	out->pinned = q->pinned;
	if (q->pinned) {
		out->pin.node = xstrdup(q->pin.node);
		out->pin.counter = q->pin.counter;
	}
	pthread_mutex_unlock(&t->lock);
}

void
qname_release(struct qname *n)
{
	free(n->key);
	free(n->path);
	dot_release(&n->pin);
	memset(n, 0, sizeof(*n));
}

/* Forget stale names whose time is up (the table's lock held). */
static void
stale_prune(struct itab *t)
{
	int64_t now = mono_ms();
	size_t i, out = 0;

	for (i = 0; i < t->nstale; i++) {
		if (t->stale[i].until_ms <= now) {
			free(t->stale[i].path);
			continue;
		}
		t->stale[out++] = t->stale[i];
	}
	t->nstale = out;
}

void
itab_mark_stale(struct itab *t, const char *path, int64_t ms)
{
	pthread_mutex_lock(&t->lock);
	stale_prune(t);
	t->stale = xreallocarray(t->stale, t->nstale + 1, sizeof(*t->stale));
	t->stale[t->nstale].path = xstrdup(path);
	t->stale[t->nstale].until_ms = mono_ms() + ms;
	t->nstale++;
	pthread_mutex_unlock(&t->lock);
}

int
itab_is_stale(struct itab *t, const char *path)
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&t->lock);
	stale_prune(t);
	for (i = 0; i < t->nstale && !found; i++)
		found = strcmp(t->stale[i].path, path) == 0;
	pthread_mutex_unlock(&t->lock);
	return found;
}
