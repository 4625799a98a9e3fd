/*
 * test_store.c - the LevelDB version store (store/store.h), on real disk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/key.h"
#include "store/kbuf.h"
#include "store/record.h"
#include "store/record.pb-c.h"
#include <xxhash.h>
#include "store/store.h"
#include "store/blob.h"
#include <leveldb/c.h>
#include "store/store_int.h"
#include "tests/unit/tmpdir.h"

struct fixture {
	char		 dir[256];
	struct store	*st;
	struct store	*st2;		/* a second replica, for merges */
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct store_options opt = { .create_if_missing = 1 };
	char path[300], *err = NULL;

	if (tmpdir_make(f->dir, sizeof(f->dir), "store") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/a", f->dir);
	if (store_open(path, &opt, &f->st, &err) < 0)
		fail_msg("open: %s", err);
	snprintf(path, sizeof(path), "%s/b", f->dir);
	if (store_open(path, &opt, &f->st2, &err) < 0)
		fail_msg("open: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->st);
	store_close(f->st2);
	if (tmpdir_remove(f->dir) < 0)
		return -1;
	free(f);
	return 0;
}

static void
put(struct store *st, const char *key, const struct cc *ctx,
    const char *node, const char *value, struct vset *delta)
{
	char *err = NULL;
	int rc = store_put(st, key, strlen(key), ctx, node, 1000, value == NULL,
	    "meta", 4, value, value ? strlen(value) : 0, delta, NULL, &err);

	if (rc < 0)
		fail_msg("put %s: %s", key, err);
}

static int
get(struct store *st, const char *key, int want_data, struct vset *out)
{
	char *err = NULL;
	int rc = store_get(st, key, strlen(key), want_data, out, &err);

	if (rc < 0)
		fail_msg("get %s: %s", key, err);
	return rc;
}

static void
test_put_get_head_delete(void **state)
{
	struct fixture *f = *state;
	struct vset s;
	struct cc ctx;

	assert_int_equal(get(f->st, "/nope", 1, &s), 0);
	assert_int_equal(s.n, 0);

	put(f->st, "/k", NULL, "n1", "hello", NULL);
	assert_int_equal(get(f->st, "/k", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].data_len, 5);
	assert_memory_equal(s.v[0].data, "hello", 5);
	assert_memory_equal(s.v[0].meta, "meta", 4);
	assert_string_equal(s.v[0].dot.node, "n1");
	cc_copy(&ctx, &s.cc);
	vset_release(&s);

	/* head: metadata and length, no data read */
	assert_int_equal(get(f->st, "/k", 0, &s), 1);
	assert_null(s.v[0].data);
	assert_int_equal(s.v[0].data_len, 5);
	vset_release(&s);

	/* delete with the read context: one tombstone */
	put(f->st, "/k", &ctx, "n1", NULL, NULL);
	cc_release(&ctx);
	assert_int_equal(get(f->st, "/k", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_true(s.v[0].tombstone);
	assert_int_equal(vset_live_count(&s), 0);
	vset_release(&s);
}

static void
test_siblings_and_resolution(void **state)
{
	struct fixture *f = *state;
	struct vset s;
	struct cc ctx;

	put(f->st, "/s", NULL, "A", "one", NULL);
	put(f->st, "/s", NULL, "B", "two", NULL);
	assert_int_equal(get(f->st, "/s", 1, &s), 1);
	assert_int_equal(s.n, 2);
	cc_copy(&ctx, &s.cc);
	vset_release(&s);
	put(f->st, "/s", &ctx, "A", "merged", NULL);
	cc_release(&ctx);
	assert_int_equal(get(f->st, "/s", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].dot.counter, 2);
	assert_memory_equal(s.v[0].data, "merged", 6);
	vset_release(&s);
}

/* A write's delta merged into another replica converges; again is a no-op. */
static void
test_merge_delta(void **state)
{
	struct fixture *f = *state;
	struct vset d1, d2, a, b;
	int changed;
	char *err = NULL;

	put(f->st, "/m", NULL, "A", "first", &d1);
	put(f->st, "/m", &d1.cc, "A", "second", &d2);
	/* deliver out of order: second, then first (which must stay dead) */
	assert_int_equal(store_merge(f->st2, "/m", 2, &d2, &changed, &err), 0);
	assert_int_equal(changed, 1);
	/* the first write is covered by the second's context: no change */
	assert_int_equal(store_merge(f->st2, "/m", 2, &d1, &changed, &err), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(store_merge(f->st2, "/m", 2, &d2, &changed, &err), 0);
	assert_int_equal(changed, 0);	/* a repeat changes nothing */
	get(f->st, "/m", 1, &a);
	get(f->st2, "/m", 1, &b);
	assert_true(vset_equal(&a, &b));
	assert_int_equal(b.n, 1);
	assert_memory_equal(b.v[0].data, "second", 6);
	vset_release(&a);
	vset_release(&b);
	vset_release(&d1);
	vset_release(&d2);
}

static void
test_merge_rejects_bad_input(void **state)
{
	struct fixture *f = *state;
	struct vset d, s;
	char *err = NULL;

	put(f->st, "/bad", NULL, "A", "x", &d);
	free(d.v[0].data);		/* a new version without its data */
	d.v[0].data = NULL;
	assert_int_equal(store_merge(f->st2, "/bad", 4, &d, NULL, &err),
	    QERR_INVALID);
	assert_non_null(strstr(err, "without its data"));
	free(err);
	err = NULL;
	assert_int_equal(get(f->st2, "/bad", 0, &s), 0);

	/* a version outside its own context */
	cc_release(&d.cc);
	cc_init(&d.cc);
	assert_int_equal(store_merge(f->st2, "/bad", 4, &d, NULL, &err),
	    QERR_INVALID);
	free(err);
	vset_release(&d);
}

static void
test_large_values_and_limits(void **state)
{
	struct fixture *f = *state;
	struct store_options opt = { .create_if_missing = 1,
	    .max_value_size = 3u << 20 };
	struct store *small;
	size_t n = (5u << 20) + 123, i;
	char *big = xmalloc(n), *err = NULL, path[300];
	struct vset s;

	for (i = 0; i < n; i++)
		big[i] = (char)(i * 31 + (i >> 20));
	assert_int_equal(store_put(f->st, "/big", 4, NULL, "A", 1, 0, "", 0,
	    big, n, NULL, NULL, &err), 0);
	get(f->st, "/big", 1, &s);
	assert_int_equal(s.v[0].data_len, n);
	assert_memory_equal(s.v[0].data, big, n);
	vset_release(&s);

	snprintf(path, sizeof(path), "%s/small", f->dir);
	assert_int_equal(store_open(path, &opt, &small, &err), 0);
	assert_int_equal(store_put(small, "/v", 2, NULL, "A", 1, 0, "", 0,
	    "keep", 4, NULL, NULL, &err), 0);
	assert_int_equal(store_put(small, "/v", 2, NULL, "A", 1, 0, "", 0,
	    big, n, NULL, NULL, &err), QERR_TOO_BIG);
	assert_non_null(strstr(err, "limit"));
	free(err);
	err = NULL;
	get(small, "/v", 1, &s);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, "keep", 4);
	vset_release(&s);
	store_close(small);
	free(big);
}

static int
count_keys(void *arg, uint64_t h, const char *key, size_t klen)
{
	(void)h;
	(void)key;
	(void)klen;
	(*(int *)arg)++;
	return 0;
}

static void
test_invalid_keys_change_nothing(void **state)
{
	struct fixture *f = *state;
	static const char *bad[] = { "", "x", "/", "/a//b", "/a/../b", "/t/" };
	char *err = NULL;
	size_t i;
	int seen = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_put(f->st2, bad[i], strlen(bad[i]), NULL,
		    "A", 1, 0, "", 0, "v", 1, NULL, NULL, &err), QERR_INVALID);
		assert_non_null(err);
		free(err);
		err = NULL;
	}
	assert_int_equal(store_put(f->st2, "/k", 2, NULL, "", 1, 0, "", 0,
	    "v", 1, NULL, NULL, &err), QERR_INVALID);	/* empty node id */
	free(err);
	err = NULL;
	/* nothing at all was written */
	assert_int_equal(store_scan_hash(f->st2, 0, UINT64_MAX, count_keys,
	    &seen, &err), 0);
	assert_int_equal(seen, 0);
}

struct listing {
	char	names[64][64];
	int	live[64];
	int	n;
};

static int
collect(void *arg, const char *name, size_t len, const struct vset *s)
{
	struct listing *l = arg;

	snprintf(l->names[l->n], sizeof(l->names[0]), "%.*s", (int)len, name);
	l->live[l->n] = (int)vset_live_count(s);
	assert_null(s->n ? s->v[0].data : NULL);	/* never reads data */
	l->n++;
	return 0;
}

static void
test_list_children(void **state)
{
	struct fixture *f = *state;
	struct listing l;
	char *err = NULL;
	int more;

	put(f->st2, "/d", NULL, "A", "", NULL);
	put(f->st2, "/d/b", NULL, "A", "bee", NULL);
	put(f->st2, "/d/a", NULL, "A", "ay", NULL);
	put(f->st2, "/d/sub", NULL, "A", "", NULL);
	put(f->st2, "/d/sub/x", NULL, "A", "x", NULL);
	put(f->st2, "/d/sub/deeper/y", NULL, "A", "y", NULL);
	put(f->st2, "/d2", NULL, "A", "", NULL);
	put(f->st2, "/dz", NULL, "A", "", NULL);
	put(f->st2, "/d/c", NULL, "A", NULL, NULL);	/* tombstone */

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_list(f->st2, "/d", 2, NULL, 0, collect, &l,
	    &more, &err), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[0], "a");
	assert_string_equal(l.names[1], "b");
	assert_string_equal(l.names[2], "c");
	assert_int_equal(l.live[2], 0);			/* shown as deleted */
	assert_string_equal(l.names[3], "sub");
	assert_int_equal(more, 0);

	/* pages of two */
	memset(&l, 0, sizeof(l));
	store_list(f->st2, "/d", 2, NULL, 2, collect, &l, &more, &err);
	assert_int_equal(l.n, 2);
	assert_int_equal(more, 1);
	store_list(f->st2, "/d", 2, "b", 2, collect, &l, &more, &err);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[2], "c");
	assert_string_equal(l.names[3], "sub");
	assert_int_equal(more, 0);

	memset(&l, 0, sizeof(l));
	store_list(f->st2, "/", 1, NULL, 0, collect, &l, &more, &err);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "d");
	assert_string_equal(l.names[1], "d2");
	assert_string_equal(l.names[2], "dz");

	memset(&l, 0, sizeof(l));
	store_list(f->st2, "/d/sub", 6, NULL, 0, collect, &l, &more, &err);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "x");

	assert_int_equal(store_list(f->st2, "/d/", 3, NULL, 0, collect, &l,
	    &more, &err), QERR_INVALID);
	free(err);
}

struct scan {
	int		n;
	uint64_t	last;
	int		ordered;
};

static int
count_scan(void *arg, uint64_t h, const char *key, size_t klen)
{
	struct scan *sc = arg;

	assert_true(key_hash(key, klen) == h);
	if (sc->n > 0 && h < sc->last)
		sc->ordered = 0;
	sc->last = h;
	sc->n++;
	return 0;
}

static void
test_scan_hash_ranges(void **state)
{
	struct fixture *f = *state;
	struct scan all = { .ordered = 1 }, lo = { .ordered = 1 },
	    hi = { .ordered = 1 }, wrap = { .ordered = 1 },
	    mid = { .ordered = 1 };
	char key[32], *err = NULL;
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "/h/%d", i);
		put(f->st2, key, NULL, "A", "v", NULL);
	}
	store_scan_hash(f->st2, 0, UINT64_MAX, count_scan, &all, &err);
	assert_int_equal(all.n, 200);
	assert_true(all.ordered);
	store_scan_hash(f->st2, 0, UINT64_MAX / 2, count_scan, &lo, &err);
	store_scan_hash(f->st2, UINT64_MAX / 2 + 1, UINT64_MAX, count_scan,
	    &hi, &err);
	assert_int_equal(lo.n + hi.n, 200);
	assert_true(lo.n > 50 && hi.n > 50);
	/* a wrapping range is the complement of the middle one */
	store_scan_hash(f->st2, UINT64_MAX / 4 * 3, UINT64_MAX / 4, count_scan,
	    &wrap, &err);
	store_scan_hash(f->st2, UINT64_MAX / 4 + 1, UINT64_MAX / 4 * 3 - 1,
	    count_scan, &mid, &err);
	assert_int_equal(wrap.n + mid.n, 200);
}

static void
test_purge_tombstones(void **state)
{
	struct fixture *f = *state;
	struct vset s;
	char *err = NULL;

	put(f->st, "/p", NULL, "A", "live", NULL);
	assert_int_equal(store_purge_tombstones(f->st, "/p", 2, INT64_MAX,
	    &err), 0);				/* live: kept */
	get(f->st, "/p", 0, &s);
	put(f->st, "/p", &s.cc, "A", NULL, NULL);
	vset_release(&s);
	assert_int_equal(store_purge_tombstones(f->st, "/p", 2, 1000, &err),
	    0);					/* too recent: kept */
	assert_int_equal(store_purge_tombstones(f->st, "/p", 2, 1001, &err),
	    1);
	/* No version is left; the causal context is. */
	assert_int_equal(get(f->st, "/p", 0, &s), 1);
	assert_int_equal(s.n, 0);
	assert_int_equal(cc_max(&s.cc, "A"), 2);
	vset_release(&s);
	/* So a blind write after the purge never reuses a dot (it used to
	 * get A:1 again, and a writer holding the old context for A:1 then
	 * replaced a version it had never seen). */
	put(f->st, "/p", NULL, "A", "again", NULL);
	get(f->st, "/p", 0, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].dot.counter, 3);
	vset_release(&s);
}

static void
test_open_failures(void **state)
{
	struct fixture *f = *state;
	struct store_options opt = { .create_if_missing = 1 };
	struct store *st;
	char path[300], *err = NULL;
	FILE *fp;

	/* a path under a regular file cannot be a directory, even for root */
	snprintf(path, sizeof(path), "%s/plainfile", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/plainfile/db", f->dir);
	assert_int_equal(store_open(path, &opt, &st, &err), QERR_IO);
	assert_non_null(err);
	assert_null(st);
	free(err);
	err = NULL;

	/* the directory is locked by the open store */
	snprintf(path, sizeof(path), "%s/a", f->dir);
	assert_int_equal(store_open(path, &opt, &st, &err), QERR_IO);
	free(err);
	err = NULL;

	/* missing directory without create */
	opt.create_if_missing = 0;
	snprintf(path, sizeof(path), "%s/absent", f->dir);
	assert_int_equal(store_open(path, &opt, &st, &err), QERR_IO);
	free(err);
}

static void
test_injected_write_failure(void **state)
{
	struct fixture *f = *state;
	struct vset s;
	char *err = NULL;

	put(f->st, "/f", NULL, "A", "before", NULL);
	get(f->st, "/f", 0, &s);
	store_fail_next_writes(f->st, 1);
	assert_int_equal(store_put(f->st, "/f", 2, &s.cc, "A", 1, 0, "", 0,
	    "after", 5, NULL, NULL, &err), QERR_IO);
	free(err);
	vset_release(&s);
	get(f->st, "/f", 1, &s);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, "before", 6);
	vset_release(&s);
}

/* Blind concurrent writers to one key: every write becomes a sibling. */
struct blind {
	struct store	*st;
	int		 id;
};

static void *
blind_writer(void *arg)
{
	struct blind *b = arg;
	char *err = NULL;
	int i;

	for (i = 0; i < 20; i++)
		if (store_put(b->st, "/race", 5, NULL, "A", 1, 0, "", 0, "v", 1,
		    NULL, NULL, &err) < 0)
			fail_msg("put: %s", err);
	return NULL;
}

static void
test_concurrent_writers_one_key(void **state)
{
	struct fixture *f = *state;
	pthread_t t[8];
	struct blind b[8];
	struct vset s;
	int i;

	for (i = 0; i < 8; i++) {
		b[i].st = f->st;
		b[i].id = i;
		pthread_create(&t[i], NULL, blind_writer, &b[i]);
	}
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	get(f->st, "/race", 0, &s);
	assert_int_equal(s.n, 160);
	assert_int_equal(cc_max(&s.cc, "A"), 160);
	vset_release(&s);
}

/* A retry (same request id) of a write this node holds names no new dot,
 * whichever node coordinates it; its delta carries the held copy. */
static void
test_retry_reuses_held_copy(void **state)
{
	struct fixture *f = *state;
	struct store_write w = { .node = "A", .ts_us = 5, .reqid = 77,
	    .data = "once", .data_len = 4 };
	struct vset d1, d2, s;
	struct dot dot1, dot2;
	char *err = NULL;

	assert_int_equal(store_write(f->st, "/retry", 6, &w, &d1, &dot1,
	    &err), 0);
	w.node = "B";
	w.retry = 1;
	assert_int_equal(store_write(f->st, "/retry", 6, &w, &d2, &dot2,
	    &err), 0);
	assert_string_equal(dot2.node, "A");
	assert_int_equal(dot2.counter, dot1.counter);
	assert_int_equal(d2.n, 1);
	assert_memory_equal(d2.v[0].data, "once", 4);
	get(f->st, "/retry", 1, &s);
	assert_int_equal(s.n, 1);
	/* Another replica merging the retry's delta gets the one version. */
	assert_int_equal(store_merge(f->st2, "/retry", 6, &d2, NULL, &err), 0);
	vset_release(&s);
	get(f->st2, "/retry", 1, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].dot.node, "A");
	vset_release(&s);
	vset_release(&d1);
	vset_release(&d2);
	dot_release(&dot1);
	dot_release(&dot2);
}

/* An async write with early(): the delta is handed over before the sync,
 * once per op, then the staged hook, then done(). */
struct early_log {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	char		 seq[64];
	size_t		 n;
	int		 done;
	uint64_t	 counter;
};

static struct early_log *early_log_now;

static void
early_log_add(char c)
{
	struct early_log *l = early_log_now;

	pthread_mutex_lock(&l->lock);
	if (l->n + 1 < sizeof(l->seq))
		l->seq[l->n++] = c;
	if (c == 'D' || c == 'F')
		l->done = 1;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static void
on_early(struct store_op *op)
{
	/* The delta is final here, before the sync.  (No asserts on the
	 * writer thread: record, and check on the test's.) */
	early_log_now->counter = op->delta.n == 1 ?
	    op->delta.v[0].dot.counter : 0;
	early_log_add('E');
}

static void
on_staged(void *arg)
{
	(void)arg;
	early_log_add('S');
}

static void
on_done(struct store_op *op)
{
	early_log_add(op->rc == 0 ? 'D' : 'F');
}

static void
test_early_handover(void **state)
{
	struct fixture *f = *state;
	struct early_log l = { .lock = PTHREAD_MUTEX_INITIALIZER,
	    .cond = PTHREAD_COND_INITIALIZER };
	struct store_op op;
	struct vset s;

	early_log_now = &l;
	store_set_staged_hook(f->st, on_staged, NULL);
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_WRITE;
	op.key = "/early";
	op.klen = strlen(op.key);
	op.w.node = "A";
	op.w.ts_us = 1;
	op.w.data = "v";
	op.w.data_len = 1;
	op.early = on_early;
	op.done = on_done;
	store_submit(f->st, &op);
	pthread_mutex_lock(&l.lock);
	while (!l.done)
		pthread_cond_wait(&l.cond, &l.lock);
	pthread_mutex_unlock(&l.lock);
	store_quiesce(f->st);
	l.seq[l.n] = '\0';
	assert_string_equal(l.seq, "ESD");
	assert_int_equal(l.counter, 1);
	assert_int_equal(op.dot.counter, 1);
	assert_true(store_healthy(f->st));
	get(f->st, "/early", 1, &s);
	assert_int_equal(s.n, 1);
	vset_release(&s);
	vset_release(&op.delta);
	dot_release(&op.dot);
	free(op.err);
}

/* One synced batch per change made; none for a change refused. */
static void
test_sync_count(void **state)
{
	struct fixture *f = *state;
	uint64_t n = store_sync_count(f->st);
	char *err = NULL;

	put(f->st, "/synced", NULL, "A", "v", NULL);
	assert_int_equal(store_sync_count(f->st), n + 1);
	assert_true(store_put(f->st, "no-slash", 8, NULL, "A", 1, 0, "m", 1,
	    "v", 1, NULL, NULL, &err) < 0);
	free(err);
	assert_int_equal(store_sync_count(f->st), n + 1);
}

/* Does a thread of this process have the name (its /proc comm)? */
static int
thread_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[300], comm[32];
	int found = 0;
	FILE *fp;

	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
		    e->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;	/* a thread that ended meanwhile */
		if (fgets(comm, sizeof(comm), fp) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			found = strcmp(comm, name) == 0;
		}
		fclose(fp);
	}
	closedir(d);
	return found;
}

/*
 * The store's threads carry names (top -H, perf, gdb): its writer, each
 * log's filler, and LevelDB's background thread once a memtable is full.
 */
static void
test_thread_names(void **state)
{
	struct fixture *f = *state;
	size_t n = 512u << 10, i;	/* under BLOB_MIN: in LevelDB */
	char *v = xmalloc(n), key[32], *err = NULL;

	assert_true(thread_named("store-writer"));
	assert_true(thread_named("log-filler"));
	for (i = 0; i < n; i++)
		v[i] = (char)(i * 131 + (i >> 12));
	/* 20 MiB: past the 16 MiB memtable, so a flush is scheduled. */
	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "/fill%zu", i);
		v[0] = (char)i;
		assert_int_equal(store_put(f->st, key, strlen(key), NULL, "A",
		    1, 0, "", 0, v, n, NULL, NULL, &err), 0);
	}
	/* The flush runs on its own: wait for the name, up to 10 s. */
	for (i = 0; i < 1000 && !thread_named("leveldb-compact"); i++)
		usleep(10000);
	assert_true(thread_named("leveldb-compact"));
	free(v);
}

struct changes {
	int		n;
	uint64_t	last_old, last_new;
};

static void
on_change(void *arg, const char *key, size_t klen, uint64_t old_digest,
    uint64_t new_digest)
{
	struct changes *c = arg;

	(void)key;
	(void)klen;
	c->n++;
	c->last_old = old_digest;
	c->last_new = new_digest;
}

/* The change hook sees every record change with digests that replicas
 * holding equal version sets agree on. */
static void
test_change_hook_digests(void **state)
{
	struct fixture *f = *state;
	struct changes c1 = { 0 }, c2 = { 0 };
	struct vset d, s;
	char *err = NULL;

	store_set_change_hook(f->st, on_change, &c1);
	store_set_change_hook(f->st2, on_change, &c2);
	put(f->st, "/h", NULL, "A", "v1", &d);
	assert_int_equal(c1.n, 1);
	assert_true(c1.last_old == 0 && c1.last_new != 0);
	assert_int_equal(store_merge(f->st2, "/h", 2, &d, NULL, &err), 0);
	assert_true(c2.last_new == c1.last_new);	/* same set, same digest */
	get(f->st, "/h", 0, &s);
	assert_true(store_record_digest("/h", 2, &s) == c1.last_new);
	/* a repeated merge changes nothing and reports nothing */
	assert_int_equal(store_merge(f->st2, "/h", 2, &d, NULL, &err), 0);
	assert_int_equal(c2.n, 1);
	put(f->st, "/h", &s.cc, "A", NULL, NULL);	/* delete */
	assert_int_equal(c1.n, 2);
	assert_true(c1.last_old == store_record_digest("/h", 2, &s));
	assert_int_equal(store_purge_tombstones(f->st, "/h", 2, INT64_MAX,
	    &err), 1);
	assert_int_equal(c1.n, 3);
	assert_true(c1.last_new != 0 && c1.last_new != c1.last_old);
	vset_release(&s);
	vset_release(&d);
}

/* LevelDB rows whose key starts with the byte c ('k', 'd' or 'h'). */
static int
count_rows(struct store *st, char c)
{
	leveldb_iterator_t *it = leveldb_create_iterator(st->db, st->rdefault);
	int n = 0;

	for (leveldb_iter_seek(it, &c, 1); leveldb_iter_valid(it);
	    leveldb_iter_next(it)) {
		size_t klen;
		const char *k = leveldb_iter_key(it, &klen);

		if (klen == 0 || k[0] != c)
			break;
		n++;
	}
	leveldb_iter_destroy(it);
	return n;
}

/*
 * Files in the store a's blob directory whose names end with suffix; the
 * path of the last one in path, when path is not NULL.
 */
static int
blob_files(struct fixture *f, const char *suffix, char *path, size_t size)
{
	char dir[300];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/a/blobs", f->dir);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name), sl = strlen(suffix);

		if (e->d_name[0] == '.' || len < sl ||
		    strcmp(e->d_name + len - sl, suffix) != 0)
			continue;
		if (path != NULL)
			snprintf(path, size, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static int
count_blob_files(struct fixture *f, const char *suffix)
{
	return blob_files(f, suffix, NULL, 0);
}

/*
 * store_remove_if: the record, its data chunks and its index row go, only
 * for the digest handed off; the change hook sees the digest become 0,
 * and the key can come back whole by a merge.
 */
static void
test_remove_if(void **state)
{
	struct fixture *f = *state;
	struct changes c = { 0 };
	size_t n = (2u << 20) + 7, i;
	char *big = xmalloc(n), *err = NULL;
	struct vset d, s;
	uint64_t digest;
	int keys = 0;

	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7);
	store_set_change_hook(f->st, on_change, &c);
	assert_int_equal(store_put(f->st, "/r", 2, NULL, "A", 1, 0, "m", 1,
	    big, n, &d, NULL, &err), 0);
	put(f->st, "/r2", NULL, "A", "stays", NULL);
	get(f->st, "/r", 0, &s);
	digest = store_record_digest("/r", 2, &s);
	vset_release(&s);
	/* /r2 is inline, /r's 2 MiB in a blob */
	assert_int_equal(count_rows(f->st, 'd'), 0);
	assert_int_equal(count_blob_files(f, ""), 1);
	/* changed since it was handed off: kept */
	assert_int_equal(store_remove_if(f->st, "/r", 2, digest ^ 1, &err), 0);
	assert_int_equal(get(f->st, "/r", 1, &s), 1);
	vset_release(&s);
	assert_int_equal(store_remove_if(f->st, "/r", 2, digest, &err), 1);
	assert_true(c.last_old == digest && c.last_new == 0);
	assert_int_equal(get(f->st, "/r", 1, &s), 0);
	vset_release(&s);
	assert_int_equal(store_remove_if(f->st, "/r", 2, 0, &err), 0);
	store_scan_hash(f->st, 0, UINT64_MAX, count_keys, &keys, &err);
	assert_int_equal(keys, 1);			/* /r2 only */
	assert_int_equal(count_rows(f->st, 'd'), 0);
	assert_int_equal(count_blob_files(f, ""), 0);
	assert_int_equal(count_rows(f->st, 'k'), 1);
	assert_int_equal(count_rows(f->st, 'h'), 1);
	/* no causal context stayed: the delta merges back in full */
	assert_int_equal(store_merge(f->st, "/r", 2, &d, NULL, &err), 0);
	assert_int_equal(count_blob_files(f, ""), 1);
	assert_int_equal(get(f->st, "/r", 1, &s), 1);
	assert_int_equal(s.v[0].data_len, n);
	assert_memory_equal(s.v[0].data, big, n);
	assert_true(store_record_digest("/r", 2, &s) == digest);
	vset_release(&s);
	vset_release(&d);
	free(big);
}

/* put of a value of n bytes of (char)(i * 3) at key; its data. */
static char *
put_sized(struct store *st, const char *key, const struct cc *ctx, size_t n)
{
	char *v = xmalloc(n + 1), *err = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = (char)(i * 3);
	if (store_put(st, key, strlen(key), ctx, "n1", 1000, 0, "m", 1, v, n,
	    NULL, NULL, &err) < 0)
		fail_msg("put %s: %s", key, err);
	return v;
}

/*
 * Data of up to RECORD_INLINE_MAX bytes lives in the record (one row per
 * write), bigger data in chunk rows; both read back whole, a head reads
 * no data, and replacing either kind leaves no row behind.
 */
static void
test_small_data_inline(void **state)
{
	struct fixture *f = *state;
	char *small = put_sized(f->st, "/s", NULL, RECORD_INLINE_MAX);
	char *big = put_sized(f->st, "/b", NULL, RECORD_INLINE_MAX + 1);
	struct vset s;

	assert_int_equal(count_rows(f->st, 'k'), 2);
	assert_int_equal(count_rows(f->st, 'd'), 1);	/* /b's one chunk */
	assert_int_equal(get(f->st, "/s", 1, &s), 1);
	assert_int_equal(s.v[0].data_len, RECORD_INLINE_MAX);
	assert_memory_equal(s.v[0].data, small, RECORD_INLINE_MAX);
	vset_release(&s);
	assert_int_equal(get(f->st, "/s", 0, &s), 1);
	assert_null(s.v[0].data);
	assert_int_equal(s.v[0].data_len, RECORD_INLINE_MAX);
	vset_release(&s);
	assert_int_equal(get(f->st, "/b", 1, &s), 1);
	assert_memory_equal(s.v[0].data, big, RECORD_INLINE_MAX + 1);
	/* big replaced by small: its chunk goes; small by big: one comes */
	free(big);
	big = put_sized(f->st, "/b", &s.cc, 10);
	vset_release(&s);
	assert_int_equal(get(f->st, "/s", 0, &s), 1);
	free(small);
	small = put_sized(f->st, "/s", &s.cc, 3u << 20);
	vset_release(&s);
	/* /s: 3 MiB, in a blob file */
	assert_int_equal(count_rows(f->st, 'd'), 0);
	assert_int_equal(count_blob_files(f, ""), 1);
	assert_int_equal(get(f->st, "/b", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, big, 10);
	vset_release(&s);
	assert_int_equal(get(f->st, "/s", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, small, 3u << 20);
	vset_release(&s);
	free(small);
	free(big);
}

/* The path of the one blob file in store a (there must be one). */
static void
the_blob(struct fixture *f, char *path, size_t size)
{
	assert_int_equal(blob_files(f, "", path, size), 1);
}

static void
reopen(struct fixture *f, const struct store_options *opt)
{
	char path[300], *err = NULL;

	store_close(f->st);
	snprintf(path, sizeof(path), "%s/a", f->dir);
	if (store_open(path, opt, &f->st, &err) < 0)
		fail_msg("reopen: %s", err);
}

/*
 * Data of BLOB_MIN bytes and more is in a file of its own, not in LevelDB:
 * it reads back whole (also after a reopen), a head reads none of it, a
 * version that replaces it takes its file's place, a damaged file reads
 * as corrupt, and a delete leaves no file.
 */
static void
test_blob_files(void **state)
{
	struct fixture *f = *state;
	struct store_options opt = { .create_if_missing = 1 };
	char *a = put_sized(f->st, "/big", NULL, BLOB_MIN), *b, *err = NULL;
	char path[600];
	struct vset s;
	FILE *fp;

	assert_int_equal(count_rows(f->st, 'd'), 0);
	assert_int_equal(count_blob_files(f, ""), 1);
	assert_int_equal(get(f->st, "/big", 0, &s), 1);
	assert_null(s.v[0].data);
	assert_true(s.v[0].in_blob);
	vset_release(&s);
	reopen(f, &opt);
	assert_int_equal(get(f->st, "/big", 1, &s), 1);
	assert_int_equal(s.v[0].data_len, BLOB_MIN);
	assert_memory_equal(s.v[0].data, a, BLOB_MIN);

	/* replaced: one file, the new version's */
	b = xmalloc(BLOB_MIN + 5);
	memset(b, 'b', BLOB_MIN + 5);
	assert_int_equal(store_put(f->st, "/big", 4, &s.cc, "n1", 1000, 0,
	    "m", 1, b, BLOB_MIN + 5, NULL, NULL, &err), 0);
	vset_release(&s);
	assert_int_equal(count_blob_files(f, ""), 1);
	assert_int_equal(get(f->st, "/big", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].data_len, BLOB_MIN + 5);
	assert_memory_equal(s.v[0].data, b, BLOB_MIN + 5);

	/* one byte of its data changed: corrupt, said so */
	the_blob(f, path, sizeof(path));
	assert_non_null(fp = fopen(path, "r+"));
	assert_int_equal(fseek(fp, -100, SEEK_END), 0);
	fputc('X', fp);
	fclose(fp);
	{
		struct vset bad;

		assert_int_equal(store_get(f->st, "/big", 4, 1, &bad, &err),
		    QERR_CORRUPT);
		assert_non_null(strstr(err, "checksum"));
		free(err);
		err = NULL;
	}

	/* deleted: no file left */
	assert_int_equal(store_put(f->st, "/big", 4, &s.cc, "n1", 1000, 1,
	    "m", 1, NULL, 0, NULL, NULL, &err), 0);
	vset_release(&s);
	assert_int_equal(count_blob_files(f, ""), 0);
	free(a);
	free(b);
}

/*
 * One batch that merges a big version in, removes the key, and merges the
 * same version in again: one file for it, readable, the store healthy.
 */
static void
test_blob_same_version_twice_in_a_batch(void **state)
{
	struct fixture *f = *state;
	char *v = xmalloc(BLOB_MIN), *err = NULL;
	struct store_op ops[3];
	struct vset d, s;
	int i;

	memset(v, 'v', BLOB_MIN);
	assert_int_equal(store_put(f->st2, "/x", 2, NULL, "n2", 1000, 0, "m",
	    1, v, BLOB_MIN, &d, NULL, &err), 0);
	memset(ops, 0, sizeof(ops));
	for (i = 0; i < 3; i++) {
		ops[i].key = "/x";
		ops[i].klen = 2;
		ops[i].kind = i == 1 ? STORE_OP_REMOVE : STORE_OP_MERGE;
		ops[i].remote = &d;
	}
	store_run_all(f->st, ops, 3);
	for (i = 0; i < 3; i++) {
		if (ops[i].rc < 0)
			fail_msg("op %d: %s", i, ops[i].err);
		vset_release(&ops[i].delta);
		dot_release(&ops[i].dot);
	}
	assert_true(store_healthy(f->st));
	assert_int_equal(count_blob_files(f, ""), 1);
	assert_int_equal(get(f->st, "/x", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, v, BLOB_MIN);
	vset_release(&s);
	vset_release(&d);
	free(v);
}

static void
note_line(const char *line, void *arg)
{
	snprintf(arg, 300, "%s", line);
}

/*
 * What a crash can leave in the blob directory goes at the next open: a
 * temporary file (a write cut short) and a blob no record names (its
 * version replaced, the file not yet removed); the blobs records name,
 * and files that are not blobs, stay.
 */
static void
test_blob_sweep(void **state)
{
	struct fixture *f = *state;
	char note[300] = "", path[600], old[700], cmd[4000];
	struct store_options opt = { .create_if_missing = 1,
	    .note = note_line, .note_arg = note };
	char *v1 = put_sized(f->st, "/o", NULL, BLOB_MIN), *v2;
	struct vset s;

	/* keep /o's first blob, as a crash before its removal would */
	the_blob(f, path, sizeof(path));
	snprintf(old, sizeof(old), "%s.keep", f->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, old);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(get(f->st, "/o", 0, &s), 1);
	v2 = put_sized(f->st, "/o", &s.cc, BLOB_MIN + 1);
	vset_release(&s);
	store_close(f->st);
	f->st = NULL;
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && "
	    "echo cut > '%s/a/blobs/0123456789abcdef0123456789abcdef.tmp' && "
	    "echo mine > '%s/a/blobs/README' && rm '%s'", old, path, f->dir,
	    f->dir, old);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(count_blob_files(f, ""), 4);
	reopen(f, &opt);
	assert_non_null(strstr(note, "removed 2 blob file(s)"));
	assert_int_equal(count_blob_files(f, ".tmp"), 0);
	assert_int_equal(count_blob_files(f, "README"), 1);
	assert_int_equal(count_blob_files(f, ""), 2);	/* /o's and README */
	assert_int_equal(get(f->st, "/o", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].data_len, BLOB_MIN + 1);
	assert_memory_equal(s.v[0].data, v2, BLOB_MIN + 1);
	vset_release(&s);
	free(v1);
	free(v2);
}

/*
 * A record of format 1 (written before small data went inline) with a
 * small version in a chunk row: it reads back, and a write replacing it
 * deletes that chunk row.
 */
static void
test_legacy_chunked_small_version(void **state)
{
	struct fixture *f = *state;
	struct vset s, legacy;
	struct version v;
	struct kbuf kb = { 0 };
	uint8_t *rec;
	size_t rec_len;
	char *lerr = NULL;
	leveldb_writeoptions_t *wo = leveldb_writeoptions_create();

	vset_init(&legacy);
	memset(&v, 0, sizeof(v));
	v.dot.node = "n9";
	v.dot.counter = 1;
	v.ts_us = 5;
	v.data_len = 6;
	vset_insert(&legacy, &v);
	cc_add(&legacy.cc, "n9", 1);
	record_encode(&legacy, &rec, &rec_len);		/* format 1, no data */
	kbuf_put(&kb, "k\0old", 5);		/* the root's child */
	leveldb_put(f->st->db, wo, kb.p, kb.len, (char *)rec, rec_len, &lerr);
	assert_null(lerr);
	kb.len = 0;
	kbuf_put(&kb, "d/old\0n9\0", 9);
	kbuf_put_be64(&kb, 1);
	kbuf_put_be32(&kb, 0);
	leveldb_put(f->st->db, wo, kb.p, kb.len, "legacy", 6, &lerr);
	assert_null(lerr);
	free(rec);
	free(kb.p);
	leveldb_writeoptions_destroy(wo);

	assert_int_equal(get(f->st, "/old", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, "legacy", 6);
	put(f->st, "/old", &s.cc, "n1", "new", NULL);
	vset_release(&s);
	assert_int_equal(count_rows(f->st, 'd'), 0);
	assert_int_equal(count_rows(f->st, 'k'), 1);
	assert_int_equal(get(f->st, "/old", 1, &s), 1);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, "new", 3);
	vset_release(&s);
	vset_release(&legacy);
}

/* rk packed does not decode: QERR_CORRUPT, saying why when why is set. */
static void
assert_record_refused(const Qstore__RecKey *rk, const char *why)
{
	uint8_t buf[256];
	struct vset out;
	char *err = NULL;
	size_t len = qstore__rec_key__pack(rk, buf);

	assert_int_equal(record_decode(buf, len, 1, &out, &err), QERR_CORRUPT);
	if (why != NULL)
		assert_non_null(strstr(err, why));
	free(err);
}

/* Inline data must be the version's length; a tombstone has none. */
static void
test_record_inline_checked(void **state)
{
	Qstore__RecKey rk = QSTORE__REC_KEY__INIT;
	Qstore__RecVersion rv = QSTORE__REC_VERSION__INIT, *rvp = &rv;
	Qstore__RecContext rc = QSTORE__REC_CONTEXT__INIT;
	Qstore__RecEntry re = QSTORE__REC_ENTRY__INIT, *rep = &re;
	struct vset out;
	uint8_t buf[256];
	size_t len;
	char *err = NULL;

	(void)state;
	rk.format = RECORD_FORMAT_INLINE;
	re.node = "n1";
	re.max = 1;
	rc.n_entries = 1;
	rc.entries = &rep;
	rk.cc = &rc;
	rk.n_versions = 1;
	rk.versions = &rvp;
	rv.node = "n1";
	rv.counter = 1;
	rv.data_len = 3;
	rv.data.data = (uint8_t *)"abc";
	rv.data.len = 3;
	len = qstore__rec_key__pack(&rk, buf);
	assert_int_equal(record_decode(buf, len, 1, &out, &err), 0);
	assert_memory_equal(out.v[0].data, "abc", 3);
	vset_release(&out);
	assert_int_equal(record_decode(buf, len, 0, &out, &err), 0);
	assert_null(out.v[0].data);
	vset_release(&out);

	rv.data_len = 4;
	assert_record_refused(&rk, "3 bytes of data inline");
	rv.data_len = 3;
	rv.tombstone = 1;
	assert_record_refused(&rk, NULL);
	rv.tombstone = 0;
	rk.format = 4;
	assert_record_refused(&rk, "format 4");
	/* A blob named for data inline, or for a tombstone. */
	rk.format = RECORD_FORMAT_BLOB;
	rv.blob = 1;
	assert_record_refused(&rk, "blob");
	rv.data.len = 0;
	rv.tombstone = 1;
	assert_record_refused(&rk, "blob");
	rv.tombstone = 0;
	len = qstore__rec_key__pack(&rk, buf);
	assert_int_equal(record_decode(buf, len, 1, &out, &err), 0);
	assert_true(out.v[0].in_blob);
	assert_null(out.v[0].data);
	vset_release(&out);
}

/* Is s's digest at key XXH3 of the key, a NUL and s's record_encode? */
static void
assert_digest_definition(const char *key, const struct vset *s)
{
	XXH3_state_t *h = XXH3_createState();
	size_t rec_len, klen = strlen(key);
	uint8_t *rec;

	record_encode(s, &rec, &rec_len);
	XXH3_64bits_reset(h);
	XXH3_64bits_update(h, key, klen);
	XXH3_64bits_update(h, "", 1);
	XXH3_64bits_update(h, rec, rec_len);
	assert_true(store_record_digest(key, klen, s) ==
	    XXH3_64bits_digest(h));
	XXH3_freeState(h);
	free(rec);
}

/*
 * A record's digest is XXH3 of the key, a NUL and its encoding without
 * data (record.h): nodes of different releases must agree on it, inline
 * data or not, or anti-entropy would see every key differ.
 */
static void
test_record_digest_definition(void **state)
{
	struct vset s;
	struct version v;
	char *long_key = xmalloc(3000);

	(void)state;
	vset_init(&s);
	memset(&v, 0, sizeof(v));
	v.dot.node = "n1";
	v.dot.counter = 7;
	v.ts_us = 99;
	v.meta = "meta";
	v.meta_len = 4;
	v.data = "abc";
	v.data_len = 3;
	vset_insert(&s, &v);
	cc_add(&s.cc, "n1", 7);
	assert_digest_definition("/d", &s);
	memset(long_key, 'x', 2999);	/* past the digest's stack buffer */
	long_key[0] = '/';
	long_key[2999] = '\0';
	assert_digest_definition(long_key, &s);
	free(long_key);
	vset_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_head_delete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_siblings_and_resolution,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_delta, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_merge_rejects_bad_input,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_values_and_limits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_invalid_keys_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_children, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scan_hash_ranges, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_purge_tombstones, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_injected_write_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_writers_one_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_reuses_held_copy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_early_handover, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_count, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_change_hook_digests,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_if, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_small_data_inline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_legacy_chunked_small_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_blob_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_blob_sweep, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_blob_same_version_twice_in_a_batch, setup, teardown),
		cmocka_unit_test(test_record_inline_checked),
		cmocka_unit_test(test_record_digest_definition),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
