/*
 * test_hints.c - the hint log of hinted handoff (store/hints.h), on a real
 * LevelDB in a temporary directory.  The corruption tests write bad rows
 * with LevelDB's own API, so they know the layout hints.c documents.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <leveldb/c.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/hints.h"
#include "store/store.h"
#include "tests/unit/tmpdir.h"

#define MAX_VALUE  (4u << 20)

struct fixture {
	char		 dir[256];
	char		 path[300];
	struct store	*st;
	uint64_t	 max_hint_bytes;	/* store_options' at reopen */
};

static void
reopen(struct fixture *f)
{
	struct store_options opt = { .create_if_missing = 1,
	    .max_value_size = MAX_VALUE, .max_hint_bytes = f->max_hint_bytes };
	char *err = NULL;

	store_close(f->st);
	f->st = NULL;
	if (store_open(f->path, &opt, &f->st, &err) < 0)
		fail_msg("open: %s", err);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	if (tmpdir_make(f->dir, sizeof(f->dir), "hints") < 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	reopen(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->st);
	if (tmpdir_remove(f->dir) < 0)
		return -1;
	free(f);
	return 0;
}

/* A one-version set as a write coordinated by node makes it. */
static void
make_set(struct vset *out, const char *node, const void *data, size_t len)
{
	struct vset empty;
	struct version tmpl;

	vset_init(&empty);
	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.ts_us = 1000;
	tmpl.tombstone = data == NULL;
	tmpl.meta = "meta";
	tmpl.meta_len = 4;
	tmpl.data = (void *)data;
	tmpl.data_len = len;
	vset_write_delta(&empty, NULL, node, &tmpl, out);
}

static uint64_t
add(struct store *st, const char *target, const char *key, const char *value)
{
	struct vset s;
	uint64_t seq = 0;
	char *err = NULL;

	make_set(&s, "A", value, value ? strlen(value) : 0);
	if (store_hint_add(st, target, key, strlen(key), &s, &seq, &err) < 0)
		fail_msg("hint add %s: %s", key, err);
	vset_release(&s);
	return seq;
}

static size_t
read_hints(struct store *st, const char *target, uint64_t after,
    size_t max_count, size_t max_bytes, struct store_hint **out)
{
	size_t n;
	char *err = NULL;

	if (store_hint_read(st, target, after, max_count, max_bytes, out, &n,
	    &err) < 0)
		fail_msg("hint read %s: %s", target, err);
	return n;
}

static void
drop(struct store *st, const char *target, uint64_t seq)
{
	char *err = NULL;

	if (store_hint_drop_through(st, target, seq, &err) < 0)
		fail_msg("hint drop %s %llu: %s", target,
		    (unsigned long long)seq, err);
}

struct backlog {
	int		n;
	char		target[8][72];
	uint64_t	count[8], bytes[8];
	int64_t		oldest_us[8];
};

static int
backlog_cb(void *arg, const char *target, uint64_t count, uint64_t bytes,
    int64_t oldest_us)
{
	struct backlog *b = arg;

	assert_true(b->n < 8);
	snprintf(b->target[b->n], sizeof(b->target[0]), "%s", target);
	b->count[b->n] = count;
	b->bytes[b->n] = bytes;
	b->oldest_us[b->n] = oldest_us;
	b->n++;
	return 0;
}

static void
backlog(struct store *st, struct backlog *b)
{
	char *err = NULL;

	memset(b, 0, sizeof(*b));
	assert_int_equal(store_hint_targets(st, backlog_cb, b, &err), 0);
}

/* A set of two siblings: a 3 MiB value (four chunks) and a tombstone. */
static void
test_round_trip_big_and_tombstone(void **state)
{
	struct fixture *f = *state;
	size_t n = (3u << 20) + 4567, i;
	char *big = xmalloc(n), *err = NULL;
	struct vset live, dead, both, empty;
	struct store_hint *h;
	struct backlog b;
	uint64_t seq;

	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7 + (i >> 20));
	make_set(&live, "A", big, n);
	make_set(&dead, "B", NULL, 0);
	vset_merge(&live, &dead, &both);
	assert_int_equal(both.n, 2);
	make_set(&empty, "C", "", 0);		/* live, zero bytes */

	assert_int_equal(store_hint_add(f->st, "n2", "/dir/big", 8, &both,
	    &seq, &err), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(store_hint_add(f->st, "n2", "/e", 2, &empty, &seq,
	    &err), 0);
	assert_int_equal(seq, 2);

	assert_int_equal(read_hints(f->st, "n2", 0, 0, 0, &h), 2);
	assert_int_equal(h[0].seq, 1);
	assert_string_equal(h[0].key, "/dir/big");
	assert_int_equal(h[0].klen, 8);
	assert_true(h[0].added_us > 0);
	assert_true(vset_equal(&h[0].s, &both));
	assert_false(h[0].s.v[0].tombstone);
	assert_int_equal(h[0].s.v[0].data_len, n);
	assert_memory_equal(h[0].s.v[0].data, big, n);
	assert_true(h[0].s.v[1].tombstone);
	assert_null(h[0].s.v[1].data);
	assert_int_equal(h[1].seq, 2);
	assert_true(vset_equal(&h[1].s, &empty));
	assert_non_null(h[1].s.v[0].data);	/* mergeable as it is */
	store_hints_free(h, 2);

	backlog(f->st, &b);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.target[0], "n2");
	assert_int_equal(b.count[0], 2);
	assert_true(b.bytes[0] > n && b.bytes[0] < n + 4096);

	/* The same after a reopen, data and all. */
	reopen(f);
	assert_int_equal(read_hints(f->st, "n2", 0, 0, 0, &h), 2);
	assert_true(vset_equal(&h[0].s, &both));
	store_hints_free(h, 2);

	drop(f->st, "n2", 2);
	assert_int_equal(read_hints(f->st, "n2", 0, 0, 0, &h), 0);
	assert_null(h);
	backlog(f->st, &b);
	assert_int_equal(b.n, 0);

	vset_release(&live);
	vset_release(&dead);
	vset_release(&both);
	vset_release(&empty);
	free(big);
}

/* Numbers ascend per target, survive a reopen, and are never given again,
 * not even once every hint is dropped. */
static void
test_seq_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct store_hint *h;
	struct backlog b;
	uint64_t seq;

	assert_int_equal(add(f->st, "n1", "/a", "1"), 1);
	assert_int_equal(add(f->st, "n1", "/b", "2"), 2);
	assert_int_equal(add(f->st, "n1", "/c", "3"), 3);
	reopen(f);
	assert_int_equal(add(f->st, "n1", "/d", "4"), 4);
	backlog(f->st, &b);
	assert_int_equal(b.count[0], 4);

	drop(f->st, "n1", 4);
	backlog(f->st, &b);
	assert_int_equal(b.n, 0);
	reopen(f);
	backlog(f->st, &b);
	assert_int_equal(b.n, 0);
	seq = add(f->st, "n1", "/e", "5");
	assert_int_equal(seq, 5);
	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 1);
	assert_int_equal(h[0].seq, 5);
	store_hints_free(h, 1);

	/* an ack already applied, also after a reopen, changes nothing */
	reopen(f);
	drop(f->st, "n1", 4);
	drop(f->st, "n1", 1);
	backlog(f->st, &b);
	assert_int_equal(b.count[0], 1);
}

static void
test_resume_limits_and_partial_drop(void **state)
{
	struct fixture *f = *state;
	struct store_hint *h;
	struct backlog b, b2;
	char key[16], *err = NULL, val[2048];
	size_t i, n;
	uint64_t seq;

	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (i = 1; i <= 10; i++) {
		snprintf(key, sizeof(key), "/k%02zu", i);
		assert_int_equal(add(f->st, "n3", key, val), i);
	}
	/* batches of four, resuming after the last one seen */
	assert_int_equal(read_hints(f->st, "n3", 0, 4, 0, &h), 4);
	assert_int_equal(h[0].seq, 1);
	assert_int_equal(h[3].seq, 4);
	store_hints_free(h, 4);
	assert_int_equal(read_hints(f->st, "n3", 4, 4, 0, &h), 4);
	assert_int_equal(h[0].seq, 5);
	assert_string_equal(h[0].key, "/k05");
	store_hints_free(h, 4);
	assert_int_equal(read_hints(f->st, "n3", 8, 4, 0, &h), 2);
	assert_int_equal(h[1].seq, 10);
	store_hints_free(h, 2);
	assert_int_equal(read_hints(f->st, "n3", 10, 4, 0, &h), 0);

	/* a byte budget: about three hints of 2 KB; the first always goes */
	n = read_hints(f->st, "n3", 0, 0, 3 * 2200, &h);
	assert_true(n >= 2 && n <= 3);
	store_hints_free(h, n);
	assert_int_equal(read_hints(f->st, "n3", 0, 0, 1, &h), 1);
	store_hints_free(h, 1);

	/* drop part of it; the rest stays, with the right backlog */
	backlog(f->st, &b);
	drop(f->st, "n3", 4);
	backlog(f->st, &b2);
	assert_int_equal(b2.count[0], 6);
	assert_int_equal(b2.bytes[0], b.bytes[0] / 10 * 6);
	assert_int_equal(read_hints(f->st, "n3", 0, 0, 0, &h), 6);
	assert_int_equal(h[0].seq, 5);
	assert_true(b2.oldest_us[0] == h[0].added_us);
	store_hints_free(h, 6);
	assert_int_equal(store_hint_next_seq(f->st, "n3", 0, &seq, &err), 1);
	assert_int_equal(seq, 5);

	/* idempotent, also below the point reached */
	drop(f->st, "n3", 4);
	drop(f->st, "n3", 3);
	backlog(f->st, &b2);
	assert_int_equal(b2.count[0], 6);
	/* no ack for a hint never given */
	assert_int_equal(store_hint_drop_through(f->st, "n3", 11, &err),
	    QERR_INVALID);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(store_hint_drop_through(f->st, "nobody", 1, &err),
	    QERR_INVALID);
	free(err);
	err = NULL;

	/* the backlog is rebuilt the same at open */
	reopen(f);
	backlog(f->st, &b);
	assert_int_equal(b.count[0], b2.count[0]);
	assert_int_equal(b.bytes[0], b2.bytes[0]);
	assert_true(b.oldest_us[0] == b2.oldest_us[0]);
	drop(f->st, "n3", 9);
	assert_int_equal(read_hints(f->st, "n3", 0, 0, 0, &h), 1);
	assert_int_equal(h[0].seq, 10);
	store_hints_free(h, 1);
}

static int
count_scan(void *arg, uint64_t hash, const char *key, size_t klen)
{
	(void)hash;
	(void)key;
	(void)klen;
	(*(int *)arg)++;
	return 0;
}

static int
count_list(void *arg, const char *name, size_t len, const struct vset *s)
{
	(void)name;
	(void)len;
	(void)s;
	(*(int *)arg)++;
	return 0;
}

/* Hints are in no read, listing or hash scan, and leave records alone. */
static void
test_hints_invisible(void **state)
{
	struct fixture *f = *state;
	struct vset s;
	char *err = NULL;
	int seen = 0, more;

	add(f->st, "n1", "/h", "hinted");
	add(f->st, "n1", "/dir/h", "hinted");
	assert_int_equal(store_get(f->st, "/h", 2, 1, &s, &err), 0);
	assert_int_equal(store_get(f->st, "/dir/h", 6, 0, &s, &err), 0);
	assert_int_equal(store_list(f->st, "/", 1, NULL, 0, count_list, &seen,
	    &more, &err), 0);
	assert_int_equal(store_list(f->st, "/dir", 4, NULL, 0, count_list,
	    &seen, &more, &err), 0);
	assert_int_equal(store_scan_hash(f->st, 0, UINT64_MAX, count_scan,
	    &seen, &err), 0);
	assert_int_equal(seen, 0);

	/* a real key next to them is seen alone */
	assert_int_equal(store_put(f->st, "/h", 2, NULL, "A", 1, 0, "", 0,
	    "real", 4, NULL, NULL, &err), 0);
	assert_int_equal(store_list(f->st, "/", 1, NULL, 0, count_list, &seen,
	    &more, &err), 0);
	assert_int_equal(store_scan_hash(f->st, 0, UINT64_MAX, count_scan,
	    &seen, &err), 0);
	assert_int_equal(seen, 2);
	assert_int_equal(store_get(f->st, "/h", 2, 1, &s, &err), 1);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.v[0].data, "real", 4);
	vset_release(&s);
}

/* "n1" and "n10": one target's id is a prefix of the other's. */
/* An add for n2 that must be refused by the backlog limit. */
static void
add_refused(struct store *st, const char *value)
{
	struct vset s;
	uint64_t seq = 0;
	char *err = NULL;

	make_set(&s, "A", value, strlen(value));
	assert_int_equal(store_hint_add(st, "n2", "/full", 5, &s, &seq, &err),
	    QERR_TOO_BIG);
	assert_true(store_hint_refused(QERR_TOO_BIG, err));
	free(err);
	vset_release(&s);
}

/*
 * A target's backlog stays within max_hint_bytes: the add that would pass
 * it is refused and writes nothing, other targets still take hints, and
 * so does the same one once hints are dropped; the limit holds after a
 * reopen, which counts the backlog again from disk.
 */
static void
test_backlog_limit(void **state)
{
	struct fixture *f = *state;
	struct store_hint *h;
	struct backlog b;
	char value[1001];
	int i;

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	f->max_hint_bytes = 3500;	/* three hints of about 1.05 KB */
	reopen(f);
	for (i = 1; i <= 3; i++)
		assert_int_equal(add(f->st, "n2", "/full", value), i);
	add_refused(f->st, value);
	backlog(f->st, &b);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.count[0], 3);
	assert_true(b.bytes[0] <= 3500);
	assert_int_equal(read_hints(f->st, "n2", 0, 0, 0, &h), 3);
	store_hints_free(h, 3);

	assert_int_equal(add(f->st, "n3", "/other", value), 1);
	drop(f->st, "n2", 1);
	assert_int_equal(add(f->st, "n2", "/full", value), 4);
	add_refused(f->st, value);

	reopen(f);
	add_refused(f->st, value);
	f->max_hint_bytes = 0;		/* no limit */
	reopen(f);
	assert_int_equal(add(f->st, "n2", "/full", value), 5);
}

static void
test_targets_isolated(void **state)
{
	struct fixture *f = *state;
	struct store_hint *h;
	struct backlog b;

	assert_int_equal(add(f->st, "n10", "/x", "ten-1"), 1);
	assert_int_equal(add(f->st, "n1", "/y", "one-1"), 1);
	assert_int_equal(add(f->st, "n10", "/x", "ten-2"), 2);
	assert_int_equal(add(f->st, "n1", "/y", "one-2"), 2);
	assert_int_equal(add(f->st, "n1", "/y", "one-3"), 3);
	assert_int_equal(add(f->st, "n", "/z", "just-n"), 1);

	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 3);
	assert_memory_equal(h[0].s.v[0].data, "one-1", 5);
	assert_memory_equal(h[2].s.v[0].data, "one-3", 5);
	store_hints_free(h, 3);
	assert_int_equal(read_hints(f->st, "n10", 0, 0, 0, &h), 2);
	assert_memory_equal(h[1].s.v[0].data, "ten-2", 5);
	store_hints_free(h, 2);
	assert_int_equal(read_hints(f->st, "n2", 0, 0, 0, &h), 0);

	drop(f->st, "n1", 3);
	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 0);
	assert_int_equal(read_hints(f->st, "n10", 0, 0, 0, &h), 2);
	store_hints_free(h, 2);
	assert_int_equal(read_hints(f->st, "n", 0, 0, 0, &h), 1);
	store_hints_free(h, 1);

	reopen(f);
	backlog(f->st, &b);
	assert_int_equal(b.n, 2);		/* byte order of the ids */
	assert_string_equal(b.target[0], "n");
	assert_int_equal(b.count[0], 1);
	assert_string_equal(b.target[1], "n10");
	assert_int_equal(b.count[1], 2);
	assert_int_equal(add(f->st, "n1", "/y", "one-4"), 4);
	assert_int_equal(add(f->st, "n10", "/x", "ten-3"), 3);
}

static void
expect_fail(int rc, int code, char **err)
{
	assert_int_equal(rc, code);
	assert_non_null(*err);
	free(*err);
	*err = NULL;
}

static void
test_invalid_inputs_change_nothing(void **state)
{
	struct fixture *f = *state;
	static const char *bad_keys[] = { "", "x", "/", "/a//b", "/a/../b" };
	char long_id[80], *err = NULL, *big;
	struct vset s, bad;
	struct store_hint *h;
	struct backlog b;
	uint64_t seq = 0;
	size_t i, n;

	memset(long_id, 'n', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	make_set(&s, "A", "v", 1);

	expect_fail(store_hint_add(f->st, "", "/k", 2, &s, &seq, &err),
	    QERR_INVALID, &err);
	expect_fail(store_hint_add(f->st, NULL, "/k", 2, &s, &seq, &err),
	    QERR_INVALID, &err);
	expect_fail(store_hint_add(f->st, long_id, "/k", 2, &s, &seq, &err),
	    QERR_INVALID, &err);
	for (i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++)
		expect_fail(store_hint_add(f->st, "n1", bad_keys[i],
		    strlen(bad_keys[i]), &s, &seq, &err), QERR_INVALID, &err);
	expect_fail(store_hint_add(f->st, "n1", "/k", 2, NULL, &seq, &err),
	    QERR_INVALID, &err);

	/* a version outside its set's context */
	vset_copy(&bad, &s);
	cc_release(&bad.cc);
	expect_fail(store_hint_add(f->st, "n1", "/k", 2, &bad, &seq, &err),
	    QERR_INVALID, &err);
	vset_release(&bad);

	/* a live version without its data */
	vset_copy(&bad, &s);
	free(bad.v[0].data);
	bad.v[0].data = NULL;
	assert_int_equal(store_hint_add(f->st, "n1", "/k", 2, &bad, &seq,
	    &err), QERR_INVALID);
	assert_non_null(strstr(err, "without its data"));
	free(err);
	err = NULL;
	vset_release(&bad);

	/* a value and metadata over the limits */
	n = MAX_VALUE + 1;
	big = xcalloc(1, n);
	make_set(&bad, "A", big, n);
	expect_fail(store_hint_add(f->st, "n1", "/k", 2, &bad, &seq, &err),
	    QERR_TOO_BIG, &err);
	vset_release(&bad);
	make_set(&bad, "A", "v", 1);
	free(bad.v[0].meta);
	bad.v[0].meta = big;
	bad.v[0].meta_len = STORE_META_MAX + 1;
	expect_fail(store_hint_add(f->st, "n1", "/k", 2, &bad, &seq, &err),
	    QERR_TOO_BIG, &err);
	vset_release(&bad);		/* frees big */

	/* bad targets for the other calls */
	expect_fail(store_hint_read(f->st, "", 0, 0, 0, &h, &n, &err),
	    QERR_INVALID, &err);
	expect_fail(store_hint_drop_through(f->st, long_id, 1, &err),
	    QERR_INVALID, &err);
	expect_fail(store_hint_next_seq(f->st, NULL, 0, &seq, &err),
	    QERR_INVALID, &err);

	/* nothing was written, and no number was used up */
	assert_int_equal(seq, 0);
	backlog(f->st, &b);
	assert_int_equal(b.n, 0);
	reopen(f);
	backlog(f->st, &b);
	assert_int_equal(b.n, 0);
	assert_int_equal(add(f->st, "n1", "/k", "v"), 1);
	vset_release(&s);
}

static void
test_injected_write_failure(void **state)
{
	struct fixture *f = *state;
	struct store_hint *h;
	struct backlog b, b2;
	struct vset s;
	char *err = NULL;
	uint64_t seq = 0;

	add(f->st, "n1", "/a", "1");
	add(f->st, "n1", "/b", "2");
	backlog(f->st, &b);

	make_set(&s, "A", "lost", 4);
	store_fail_next_writes(f->st, 1);
	expect_fail(store_hint_add(f->st, "n1", "/c", 2, &s, &seq, &err),
	    QERR_IO, &err);
	assert_int_equal(seq, 0);
	vset_release(&s);
	backlog(f->st, &b2);
	assert_int_equal(b2.count[0], 2);
	assert_int_equal(b2.bytes[0], b.bytes[0]);
	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 2);
	store_hints_free(h, 2);

	store_fail_next_writes(f->st, 1);
	expect_fail(store_hint_drop_through(f->st, "n1", 2, &err), QERR_IO,
	    &err);
	backlog(f->st, &b2);
	assert_int_equal(b2.count[0], 2);
	assert_int_equal(b2.bytes[0], b.bytes[0]);
	reopen(f);
	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 2);
	assert_int_equal(h[1].seq, 2);
	store_hints_free(h, 2);

	/* and it works once the disk does */
	assert_true(add(f->st, "n1", "/c", "3") > 2);
	drop(f->st, "n1", 2);
	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 1);
	assert_string_equal(h[0].key, "/c");
	store_hints_free(h, 1);
}

/* Concurrent adders get distinct numbers, and a reader resuming after the
 * last number it saw, while they run, misses none. */
#define ADDERS      8
#define PER_ADDER   40

struct adder {
	struct store	*st;
	int		 id;
	uint64_t	 seqs[PER_ADDER];
};

static void *
adder_run(void *arg)
{
	struct adder *a = arg;
	struct vset s;
	char key[32], *err = NULL, *big = xcalloc(1, 256u << 10);
	int i;

	for (i = 0; i < PER_ADDER; i++) {
		snprintf(key, sizeof(key), "/t%d/%d", a->id, i);
		/* some slow writes among the quick ones finish out of order */
		if ((i + a->id) % 4 == 0)
			make_set(&s, "A", big, 256u << 10);
		else
			make_set(&s, "A", key, strlen(key));
		if (store_hint_add(a->st, "n7", key, strlen(key), &s,
		    &a->seqs[i], &err) < 0)
			fail_msg("add: %s", err);
		vset_release(&s);
	}
	free(big);
	return NULL;
}

struct reader {
	struct store	*st;
	atomic_int	 done;
	uint64_t	 seen[ADDERS * PER_ADDER];
	size_t		 n;
};

static void *
reader_run(void *arg)
{
	struct reader *r = arg;
	uint64_t after = 0;

	for (;;) {
		struct store_hint *h;
		char *err = NULL;
		size_t n, i;
		int done = atomic_load(&r->done);

		if (store_hint_read(r->st, "n7", after, 7, 0, &h, &n,
		    &err) < 0)
			fail_msg("read: %s", err);
		for (i = 0; i < n && r->n < ADDERS * PER_ADDER; i++) {
			r->seen[r->n++] = h[i].seq;
			after = h[i].seq;
		}
		store_hints_free(h, n);
		if (n == 0 && done)
			break;
	}
	return NULL;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_concurrent_adds(void **state)
{
	struct fixture *f = *state;
	pthread_t t[ADDERS], rt;
	struct adder *a = xcalloc(ADDERS, sizeof(*a));
	struct reader *r = xcalloc(1, sizeof(*r));
	uint64_t all[ADDERS * PER_ADDER];
	struct backlog b;
	size_t i, k = 0;

	r->st = f->st;
	pthread_create(&rt, NULL, reader_run, r);
	for (i = 0; i < ADDERS; i++) {
		a[i].st = f->st;
		a[i].id = (int)i;
		pthread_create(&t[i], NULL, adder_run, &a[i]);
	}
	for (i = 0; i < ADDERS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&r->done, 1);
	pthread_join(rt, NULL);

	for (i = 0; i < ADDERS; i++) {
		memcpy(&all[k], a[i].seqs, sizeof(a[i].seqs));
		k += PER_ADDER;
	}
	qsort(all, k, sizeof(all[0]), u64_cmp);
	for (i = 0; i < k; i++)
		assert_int_equal(all[i], i + 1);	/* distinct, no gap */
	/* the reader saw every one, in order */
	assert_int_equal(r->n, k);
	for (i = 0; i < k; i++)
		assert_int_equal(r->seen[i], i + 1);
	backlog(f->st, &b);
	assert_int_equal(b.count[0], k);
	free(a);
	free(r);
}

/* Write one raw row into the closed store's LevelDB. */
static void
raw_put(struct fixture *f, const char *k, size_t klen, const char *v,
    size_t vlen, int delete)
{
	leveldb_options_t *o = leveldb_options_create();
	leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
	leveldb_t *db;
	char *lerr = NULL;

	store_close(f->st);
	f->st = NULL;
	db = leveldb_open(o, f->path, &lerr);
	if (db == NULL)
		fail_msg("leveldb open: %s", lerr);
	if (delete)
		leveldb_delete(db, wo, k, klen, &lerr);
	else
		leveldb_put(db, wo, k, klen, v, vlen, &lerr);
	assert_null(lerr);
	leveldb_close(db);
	leveldb_writeoptions_destroy(wo);
	leveldb_options_destroy(o);
}

/* 'x' target '\0' be64 seq, then optionally be32 version be32 chunk. */
static size_t
raw_key(char *buf, const char *target, uint64_t seq, int chunk)
{
	size_t n = 0, tl = strlen(target);
	int i;

	buf[n++] = 'x';
	memcpy(buf + n, target, tl);
	n += tl;
	buf[n++] = '\0';
	for (i = 7; i >= 0; i--)
		buf[n++] = (char)(seq >> (i * 8));
	if (chunk >= 0) {
		memset(buf + n, 0, 8);
		buf[n + 7] = (char)chunk;
		n += 8;
	}
	return n;
}

/* A hint whose bytes do not decode is reported, and can be stepped over. */
static void
test_corrupt_hint_reported(void **state)
{
	struct fixture *f = *state;
	struct store_hint *h;
	struct backlog b;
	struct vset s;
	/* format 1, added_us 1, 1 data byte, key "/b", then no record */
	static const char garbage[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1,
	    0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, '/', 'b',
	    'G', 'A', 'R', 'B', 'A', 'G', 'E' };
	char k[128], *err = NULL, *big;
	size_t n = (2u << 20) + 10, kl;
	uint64_t seq;
	int rc;

	add(f->st, "n1", "/a", "1");
	add(f->st, "n1", "/b", "2");
	add(f->st, "n1", "/c", "3");
	big = xcalloc(1, n);
	make_set(&s, "A", big, n);
	assert_int_equal(store_hint_add(f->st, "n1", "/big", 4, &s, &seq,
	    &err), 0);
	assert_int_equal(seq, 4);
	vset_release(&s);
	free(big);
	add(f->st, "n1", "/e", "5");

	/* hint 2: garbage where the record should be */
	kl = raw_key(k, "n1", 2, -1);
	raw_put(f, k, kl, garbage, sizeof(garbage), 0);
	reopen(f);
	backlog(f->st, &b);
	assert_int_equal(b.count[0], 5);	/* still counted */

	/* the batch ends before it; then it is reported */
	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 1);
	assert_int_equal(h[0].seq, 1);
	store_hints_free(h, 1);
	rc = store_hint_read(f->st, "n1", 1, 0, 0, &h, &n, &err);
	assert_int_equal(rc, QERR_CORRUPT);
	assert_int_equal(n, 0);
	assert_null(h);
	assert_non_null(strstr(err, "hint 2 for n1"));
	free(err);
	err = NULL;
	/* step over it */
	assert_int_equal(store_hint_next_seq(f->st, "n1", 1, &seq, &err), 1);
	assert_int_equal(seq, 2);
	drop(f->st, "n1", seq);
	assert_int_equal(read_hints(f->st, "n1", 0, 1, 0, &h), 1);
	assert_int_equal(h[0].seq, 3);
	store_hints_free(h, 1);

	/* hint 4: its second chunk is gone */
	kl = raw_key(k, "n1", 4, 1);
	raw_put(f, k, kl, NULL, 0, 1);
	reopen(f);
	rc = store_hint_read(f->st, "n1", 3, 0, 0, &h, &n, &err);
	assert_int_equal(rc, QERR_CORRUPT);
	assert_non_null(strstr(err, "missing"));
	free(err);
	err = NULL;
	drop(f->st, "n1", 4);
	assert_int_equal(read_hints(f->st, "n1", 3, 0, 0, &h), 1);
	assert_int_equal(h[0].seq, 5);
	store_hints_free(h, 1);
	backlog(f->st, &b);
	assert_int_equal(b.count[0], 1);

	/* a truncated header */
	kl = raw_key(k, "n1", 9, -1);
	raw_put(f, k, kl, "\001", 1, 0);
	reopen(f);
	assert_int_equal(add(f->st, "n1", "/f", "6"), 10);
	assert_int_equal(read_hints(f->st, "n1", 0, 0, 0, &h), 1);
	assert_int_equal(h[0].seq, 5);
	store_hints_free(h, 1);
	assert_int_equal(store_hint_read(f->st, "n1", 5, 0, 0, &h, &n, &err),
	    QERR_CORRUPT);
	free(err);
	err = NULL;

	/* a target state that does not decode fails the open */
	kl = raw_key(k, "n1", 0, -1) - 8;
	raw_put(f, k, kl, "bad", 3, 0);
	{
		struct store_options opt = { .create_if_missing = 1 };

		assert_int_equal(store_open(f->path, &opt, &f->st, &err),
		    QERR_CORRUPT);
		assert_null(f->st);
		assert_non_null(strstr(err, "hint"));
		free(err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_round_trip_big_and_tombstone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_survives_reopen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_resume_limits_and_partial_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hints_invisible, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backlog_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_targets_isolated, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_invalid_inputs_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_injected_write_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_adds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_hint_reported,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("hints", tests, NULL, NULL);
}
