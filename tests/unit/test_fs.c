/*
 * test_fs.c - the filesystem's parts that need no mount: the attribute
 * encoding (fs/meta.h), sibling views and their contexts (fs/siblings.h),
 * write buffers (fs/wbuf.h), the inode table (fs/inode.h), the lookup
 * cache (fs/lcache.h), size hints (fs/sizehint.h), directory
 * snapshots (fs/dirsnap.h) and failed writes to cover (fs/unsettled.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fs/dirsnap.h"
#include "fs/inode.h"
#include "fs/lcache.h"
#include "fs/meta.h"
#include "fs/siblings.h"
#include "fs/sizehint.h"
#include "fs/unsettled.h"
#include "fs/wbuf.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/key.h"

/* ---- meta ---- */

static void
test_meta_round_trip(void **state)
{
	struct fmeta m, d;
	uint8_t *buf;
	size_t len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = META_LNK;
	m.mode = 04755;
	m.uid = 1000;
	m.gid = 100;
	m.mtime.tv_sec = 981173106;
	m.mtime.tv_nsec = 123456789;
	m.ctime.tv_sec = -5;	/* before 1970 */
	m.size = 1ULL << 40;
	m.rdev = 0x0801;
	m.target = xstrdup("../some/where");
	meta_encode(&m, &buf, &len);
	assert_int_equal(len, META_FIXED_LEN + strlen(m.target));
	assert_int_equal(meta_decode(buf, len, &d, NULL), 0);
	assert_int_equal(d.type, META_LNK);
	assert_int_equal(d.mode, 04755);
	assert_int_equal(d.uid, 1000);
	assert_int_equal(d.gid, 100);
	assert_int_equal(d.mtime.tv_sec, 981173106);
	assert_int_equal(d.mtime.tv_nsec, 123456789);
	assert_int_equal(d.ctime.tv_sec, -5);
	assert_true(d.size == 1ULL << 40);
	assert_int_equal(d.rdev, 0x0801);
	assert_string_equal(d.target, "../some/where");
	meta_release(&d);
	/* A later format may append fields: they are ignored. */
	buf = xrealloc(buf, len + 7);
	memset(buf + len, 0xee, 7);
	buf[2] = META_FORMAT + 1;
	assert_int_equal(meta_decode(buf, len + 7, &d, NULL), 0);
	assert_string_equal(d.target, "../some/where");
	meta_release(&d);
	meta_release(&m);
	free(buf);
}

static void
test_meta_rejects_garbage(void **state)
{
	uint8_t junk[META_FIXED_LEN + 4];
	struct fmeta m, d;
	uint8_t *buf;
	size_t len, i;
	char *err = NULL;

	(void)state;
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(meta_decode(junk, sizeof(junk), &d, &err),
	    QERR_CORRUPT);
	assert_non_null(err);
	free(err);
	meta_default(&m, 2500000, 17, 1, 2);
	meta_encode(&m, &buf, &len);
	/* Every truncation fails cleanly. */
	for (i = 0; i < len; i++)
		assert_int_equal(meta_decode(buf, i, &d, NULL), QERR_CORRUPT);
	/* A target longer than the bytes that follow. */
	buf[56] = 200;
	assert_int_equal(meta_decode(buf, len, &d, NULL), QERR_CORRUPT);
	buf[56] = 0;
	buf[3] = 99;		/* no such type */
	assert_int_equal(meta_decode(buf, len, &d, NULL), QERR_CORRUPT);
	free(buf);
}

static void
test_meta_default(void **state)
{
	struct fmeta m;

	(void)state;
	meta_default(&m, 1500000, 42, 7, 8);
	assert_int_equal(m.type, META_REG);
	assert_int_equal(m.mode, 0644);
	assert_int_equal(m.uid, 7);
	assert_int_equal(m.gid, 8);
	assert_int_equal(m.mtime.tv_sec, 1);
	assert_int_equal(m.mtime.tv_nsec, 500000000);
	assert_int_equal(m.size, 42);
	assert_int_equal(meta_type_of_mode(meta_type_ifmt(META_FIFO)),
	    META_FIFO);
}

/* ---- siblings ---- */

/* Add a live version (tombstone when data is NULL) to s. */
static void
add_version(struct vset *s, const char *node, uint64_t counter,
    int64_t ts_us, const char *data, const struct fmeta *m)
{
	struct version v;
	uint8_t *meta = NULL;
	size_t meta_len = 0;

	memset(&v, 0, sizeof(v));
	v.dot.node = (char *)node;
	v.dot.counter = counter;
	v.ts_us = ts_us;
	v.tombstone = data == NULL;
	if (m != NULL)
		meta_encode(m, &meta, &meta_len);
	v.meta = meta;
	v.meta_len = meta_len;
	v.data = (void *)data;
	v.data_len = data ? strlen(data) : 0;
	vset_insert(s, &v);
	cc_add(&s->cc, node, counter);
	free(meta);
}

/* Entry k of v shows the version whose data is want. */
static void
assert_shown(const struct vset *s, const struct sib_view *v, size_t k,
    const char *want)
{
	const struct version *ver = &s->v[v->e[k].rep];

	assert_int_equal(ver->data_len, strlen(want));
	assert_memory_equal(ver->data, want, ver->data_len);
}

static void
test_siblings_order(void **state)
{
	struct vset s;
	struct sib_view v, again;

	(void)state;
	vset_init(&s);
	add_version(&s, "n1", 1, 100, "old", NULL);
	add_version(&s, "n2", 1, 300, "newest", NULL);
	add_version(&s, "n3", 1, 200, "middle", NULL);
	add_version(&s, "n1", 2, 200, "middle-tie", NULL);
	sib_view_build(&s, NULL, 0, 0, &v);
	assert_int_equal(v.n, 4);
	assert_shown(&s, &v, 0, "newest");
	/* A tie in ts_us: the greater dot first. */
	assert_shown(&s, &v, 1, "middle");
	assert_shown(&s, &v, 2, "middle-tie");
	assert_shown(&s, &v, 3, "old");
	assert_int_equal(v.uncertain, 0);
	/* The same set gives the same numbering, every time. */
	sib_view_build(&s, NULL, 0, 0, &again);
	assert_int_equal(again.e[2].rep, v.e[2].rep);
	sib_view_release(&again);
	sib_view_release(&v);
	vset_release(&s);
}

static void
test_siblings_grouping(void **state)
{
	struct vset s;
	struct sib_view v;
	struct fmeta dir;

	(void)state;
	meta_default(&dir, 0, 0, 0, 0);
	dir.type = META_DIR;
	vset_init(&s);
	add_version(&s, "n1", 1, 100, "same", NULL);
	add_version(&s, "n2", 1, 200, "same", NULL);
	add_version(&s, "n3", 1, 300, NULL, NULL);	/* a tombstone */
	sib_view_build(&s, NULL, 0, 0, &v);
	assert_int_equal(v.n, 1);		/* identical: one entry */
	assert_int_equal(v.e[0].nidx, 2);
	assert_int_equal(v.ntomb, 1);
	sib_view_release(&v);
	vset_release(&s);

	/* Directories never conflict, whatever their attributes. */
	vset_init(&s);
	add_version(&s, "n1", 1, 100, "", &dir);
	dir.mode = 0700;
	add_version(&s, "n2", 1, 200, "", &dir);
	sib_view_build(&s, NULL, 0, 0, &v);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.e[0].meta.mode, 0700);	/* the newest speaks */
	sib_view_release(&v);
	vset_release(&s);

	/* Without data, equal lengths and metadata are not known equal. */
	vset_init(&s);
	add_version(&s, "n1", 1, 100, "aaa", NULL);
	add_version(&s, "n2", 1, 200, "bbb", NULL);
	free(s.v[0].data);
	s.v[0].data = NULL;
	sib_view_build(&s, NULL, 0, 0, &v);
	assert_int_equal(v.uncertain, 1);
	assert_int_equal(v.n, 2);
	sib_view_release(&v);
	vset_release(&s);
}

/*
 * The property the filesystem rests on: a write with the context of the
 * version shown as name replaces that version (and its identical copies
 * and the tombstones) and leaves the other siblings alone.
 */
static void
test_siblings_context_replaces_one(void **state)
{
	struct vset s, delta, merged;
	struct sib_view v;
	struct version tmpl;
	struct cc ctx;

	(void)state;
	vset_init(&s);
	add_version(&s, "n1", 1, 100, "left", NULL);
	add_version(&s, "n2", 1, 200, "right", NULL);
	add_version(&s, "n2", 2, 150, NULL, NULL);	/* a tombstone */
	sib_view_build(&s, NULL, 0, 0, &v);
	assert_shown(&s, &v, 0, "right");
	sib_view_context(&v, &s, 0, &ctx);
	assert_true(cc_contains(&ctx, "n2", 1));
	assert_true(cc_contains(&ctx, "n2", 2));
	assert_false(cc_contains(&ctx, "n1", 1));

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.ts_us = 300;
	tmpl.data = "right, edited";
	tmpl.data_len = strlen(tmpl.data);
	vset_write_delta(&s, &ctx, "n3", &tmpl, &delta);
	vset_merge(&s, &delta, &merged);
	assert_int_equal(merged.n, 2);
	assert_int_equal(vset_live_count(&merged), 2);
	assert_true(vset_find(&merged, &s.v[0].dot) >= 0);	/* left stays */
	cc_release(&ctx);
	vset_release(&delta);

	/* mv name.~sibling-1 name: one write replacing both entries. */
	sib_view_release(&v);
	sib_view_build(&merged, NULL, 0, 0, &v);
	assert_int_equal(v.n, 2);
	sib_view_context2(&v, &merged, 0, 1, &ctx);
	vset_write_delta(&merged, &ctx, "n1", &tmpl, &delta);
	vset_release(&s);
	vset_merge(&merged, &delta, &s);
	assert_int_equal(vset_live_count(&s), 1);
	cc_release(&ctx);
	vset_release(&delta);
	vset_release(&merged);
	sib_view_release(&v);
	vset_release(&s);
}

static void
test_siblings_exclude(void **state)
{
	struct vset s;
	struct sib_view v;
	struct cc mine;

	(void)state;
	vset_init(&s);
	add_version(&s, "n1", 1, 100, "replaced by my write", NULL);
	add_version(&s, "n2", 1, 50, "concurrent", NULL);
	cc_init(&mine);
	cc_add(&mine, "n1", 1);
	sib_view_build(&s, &mine, 0, 0, &v);
	assert_int_equal(v.n, 1);
	assert_shown(&s, &v, 0, "concurrent");
	assert_int_equal(sib_view_find(&v, &s, &s.v[0].dot), -1);
	cc_release(&mine);
	sib_view_release(&v);
	vset_release(&s);
}

static void
test_sibling_names(void **state)
{
	size_t base;
	unsigned n;

	(void)state;
	assert_int_equal(sib_name_parse("f.~sibling-2", &base, &n), 1);
	assert_int_equal(base, 1);
	assert_int_equal(n, 2);
	assert_int_equal(sib_name_parse("a.b.~sibling-1.~sibling-12", &base,
	    &n), 1);
	assert_int_equal(base, strlen("a.b.~sibling-1"));
	assert_int_equal(n, 12);
	assert_int_equal(sib_name_parse(".~sibling-1", &base, &n), 0);
	assert_int_equal(sib_name_parse("f.~sibling-0", &base, &n), 0);
	assert_int_equal(sib_name_parse("f.~sibling-01", &base, &n), 0);
	assert_int_equal(sib_name_parse("f.~sibling-1x", &base, &n), 0);
	assert_int_equal(sib_name_parse("f.~sibling-", &base, &n), 0);
	assert_int_equal(sib_name_reserved("f.~sibling-0"), 1);
	assert_int_equal(sib_name_reserved("f.~sibling-7"), 1);
	assert_int_equal(sib_name_reserved("f.~sibling-x"), 0);
	assert_int_equal(sib_name_reserved("f~sibling-1"), 0);
}

/* ---- write buffers ---- */

static void
test_wbuf_memory_and_spill(void **state)
{
	struct wbuf *b = wbuf_new(100);
	char out[300];
	const void *p;
	size_t i;

	(void)state;
	assert_int_equal(wbuf_write(b, 0, "hello", 5, NULL), 0);
	assert_int_equal(wbuf_write(b, 10, "x", 1, NULL), 0);	/* a hole */
	assert_int_equal(wbuf_size(b), 11);
	assert_int_equal(wbuf_read(b, 0, out, sizeof(out), NULL), 11);
	assert_memory_equal(out, "hello\0\0\0\0\0x", 11);
	/* Past the spill size: a temporary file, the same content. */
	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)i;
	assert_int_equal(wbuf_write(b, 11, out, 250, NULL), 0);
	assert_int_equal(wbuf_size(b), 261);
	assert_int_equal(wbuf_map(b, &p, NULL), 0);
	assert_memory_equal(p, "hello", 5);
	assert_memory_equal((const char *)p + 11, out, 250);
	wbuf_unmap(b);
	assert_int_equal(wbuf_truncate(b, 3, NULL), 0);
	assert_int_equal(wbuf_read(b, 0, out, sizeof(out), NULL), 3);
	assert_int_equal(wbuf_read(b, 3, out, sizeof(out), NULL), 0);
	assert_int_equal(wbuf_truncate(b, 8, NULL), 0);
	assert_int_equal(wbuf_read(b, 0, out, sizeof(out), NULL), 8);
	assert_memory_equal(out, "hel\0\0\0\0\0", 8);
	wbuf_free(b);

	/* In memory, a shrink then a grow reads zeros, not old bytes. */
	b = wbuf_new(0);
	assert_int_equal(wbuf_write(b, 0, "abcdef", 6, NULL), 0);
	assert_int_equal(wbuf_truncate(b, 2, NULL), 0);
	assert_int_equal(wbuf_write(b, 5, "z", 1, NULL), 0);
	assert_int_equal(wbuf_read(b, 0, out, sizeof(out), NULL), 6);
	assert_memory_equal(out, "ab\0\0\0z", 6);
	wbuf_free(b);
}

/*
 * A spill that cannot be made fails with the system's error, for the
 * writer to get (ENOSPC for a full $TMPDIR; here ENOENT), and the content
 * so far stays.
 */
static void
test_wbuf_spill_failure_keeps_errno(void **state)
{
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL, *err = NULL;
	struct wbuf *b = wbuf_new(4);
	char out[16];

	(void)state;
	assert_int_equal(wbuf_errno(b), EIO);	/* nothing failed yet */
	assert_int_equal(wbuf_write(b, 0, "abc", 3, NULL), 0);
	setenv("TMPDIR", "/nonexistent/quorumfs-test", 1);
	assert_int_equal(wbuf_write(b, 3, "defgh", 5, &err), QERR_IO);
	assert_non_null(strstr(err, "/nonexistent/quorumfs-test"));
	assert_int_equal(wbuf_errno(b), ENOENT);
	assert_int_equal(wbuf_read(b, 0, out, sizeof(out), NULL), 3);
	assert_memory_equal(out, "abc", 3);
	free(err);
	if (saved != NULL) {
		setenv("TMPDIR", saved, 1);
		free(saved);
	} else
		unsetenv("TMPDIR");
	wbuf_free(b);
}

/* ---- the inode table ---- */

static int locals_freed;

static void
count_free(struct qlocal *l)
{
	(void)l;
	locals_freed++;
}

static void
test_inode_lifetimes(void **state)
{
	struct itab *t = itab_new(count_free);
	struct qnode *a, *b, *s1, *s2;
	struct dot d1 = { "n1", 1 }, d2 = { "n2", 1 };
	char path[32];
	int i;

	(void)state;
	a = itab_lookup(t, "/a", "/a", NULL);
	b = itab_lookup(t, "/a", "/a", NULL);
	assert_ptr_equal(a, b);			/* one node per path */
	assert_int_equal(a->nlookup, 2);
	assert_true(a->ino > 1);
	itab_put(t, a);
	itab_put(t, b);

	/* A sibling name showing another version is another inode. */
	s1 = itab_lookup(t, "/a.~sibling-1", "/a", &d1);
	s2 = itab_lookup(t, "/a.~sibling-1", "/a", &d2);
	assert_ptr_not_equal(s1, s2);
	assert_true(s1->detached);
	assert_ptr_equal(itab_get(t, s1->ino), s1);	/* still the kernel's */
	itab_put(t, s1);
	itab_forget(t, s1->ino, 1);
	itab_put(t, s1);
	assert_null(itab_get(t, 1000000));

	/* rename: the node moves, the one it replaces leaves the name. */
	b = itab_lookup(t, "/b", "/b", NULL);
	itab_move(t, s2, "/b");
	assert_false(s2->pinned);
	assert_string_equal(s2->key, "/b");
	assert_true(b->detached);
	a = itab_find(t, "/b");
	assert_ptr_equal(a, s2);
	itab_put(t, a);
	itab_put(t, b);
	itab_put(t, s2);

	/* Growth past the first table size keeps every node findable. */
	for (i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/many/f%d", i);
		itab_put(t, itab_lookup(t, path, path, NULL));
	}
	a = itab_find(t, "/many/f4321");
	assert_non_null(a);
	assert_string_equal(a->key, "/many/f4321");
	itab_put(t, a);

	itab_mark_stale(t, "/x.~sibling-1", 60000);
	assert_true(itab_is_stale(t, "/x.~sibling-1"));
	assert_false(itab_is_stale(t, "/x.~sibling-2"));
	itab_mark_stale(t, "/y.~sibling-1", 0);
	assert_false(itab_is_stale(t, "/y.~sibling-1"));
	itab_free(t);
}

/* ---- the lookup cache ---- */

static int vals_freed;

static void
count_val_free(void *v)
{
	free(v);
	vals_freed++;
}

static int *
val_new(int x)
{
	int *v = xmalloc(sizeof(*v));

	*v = x;
	return v;
}

static void
test_lcache_take_once(void **state)
{
	struct lcache *c = lcache_new(64, 60000, count_val_free);
	int *v;

	(void)state;
	vals_freed = 0;
	lcache_put(c, "/a", lcache_ticket(c, "/a"), val_new(1));
	assert_null(lcache_take(c, "/b"));
	v = lcache_take(c, "/a");
	assert_non_null(v);
	assert_int_equal(*v, 1);
	free(v);
	assert_null(lcache_take(c, "/a"));		/* served once */

	/* A later read of the key replaces the earlier one. */
	lcache_put(c, "/a", lcache_ticket(c, "/a"), val_new(2));
	lcache_put(c, "/a", lcache_ticket(c, "/a"), val_new(3));
	assert_int_equal(vals_freed, 1);
	v = lcache_take(c, "/a");
	assert_int_equal(*v, 3);
	free(v);

	/* Entries left behind are freed with the cache. */
	lcache_put(c, "/c", lcache_ticket(c, "/c"), val_new(4));
	lcache_free(c);
	assert_int_equal(vals_freed, 2);
}

static void
test_lcache_writes_refuse_reads(void **state)
{
	struct lcache *c = lcache_new(64, 60000, count_val_free);
	uint64_t ticket;

	(void)state;
	vals_freed = 0;
	/* A write lands while the lookup is reading: its read is stale. */
	ticket = lcache_ticket(c, "/a");
	lcache_drop(c, "/a");
	lcache_put(c, "/a", ticket, val_new(1));
	assert_int_equal(vals_freed, 1);
	assert_null(lcache_take(c, "/a"));

	/* A write after the read: the kept read goes. */
	lcache_put(c, "/a", lcache_ticket(c, "/a"), val_new(2));
	lcache_drop(c, "/a");
	assert_int_equal(vals_freed, 2);
	assert_null(lcache_take(c, "/a"));

	/* A read begun after the write is kept. */
	lcache_put(c, "/a", lcache_ticket(c, "/a"), val_new(3));
	free(lcache_take(c, "/a"));
	lcache_free(c);
	assert_int_equal(vals_freed, 2);
}

static void
test_lcache_ages(void **state)
{
	struct lcache *c = lcache_new(4, 50, count_val_free);
	struct lcache *off = lcache_new(4, 0, count_val_free);

	(void)state;
	vals_freed = 0;
	lcache_put(c, "/a", lcache_ticket(c, "/a"), val_new(1));
	usleep(80 * 1000);
	assert_null(lcache_take(c, "/a"));	/* older than allowed */
	assert_int_equal(vals_freed, 1);

	/* An age limit of 0 (entry_timeout=0) keeps nothing. */
	lcache_put(off, "/a", lcache_ticket(off, "/a"), val_new(2));
	assert_int_equal(vals_freed, 2);
	assert_null(lcache_take(off, "/a"));
	lcache_free(off);

	/* Puts sweep out what nobody took. */
	lcache_put(c, "/x", lcache_ticket(c, "/x"), val_new(3));
	usleep(80 * 1000);
	lcache_put(c, "/y", lcache_ticket(c, "/y"), val_new(4));
	lcache_put(c, "/y", lcache_ticket(c, "/y"), val_new(5));
	assert_int_equal(vals_freed, 4);	/* /x and the first /y */
	lcache_free(c);
	assert_int_equal(vals_freed, 5);
}

/* ---- size hints ---- */

static void
test_sizehint(void **state)
{
	struct sizehint *h = sizehint_new(1024);
	uint64_t size = 0;

	(void)state;
	assert_false(sizehint_get(h, "/a", &size));
	sizehint_note(h, "/a", 4096);
	assert_true(sizehint_get(h, "/a", &size));
	assert_int_equal(size, 4096);
	assert_false(sizehint_get(h, "/b", &size));
	sizehint_note(h, "/a", SIZEHINT_NOT_FILE);
	assert_true(sizehint_get(h, "/a", &size));
	assert_true(size == SIZEHINT_NOT_FILE);
	sizehint_forget(h, "/a");
	assert_false(sizehint_get(h, "/a", &size));
	sizehint_free(h);

	/* One slot: the last key noted holds it. */
	h = sizehint_new(1);
	sizehint_note(h, "/a", 1);
	sizehint_note(h, "/b", 2);
	assert_false(sizehint_get(h, "/a", &size));
	sizehint_forget(h, "/a");		/* not /b's hint */
	assert_true(sizehint_get(h, "/b", &size));
	assert_int_equal(size, 2);
	sizehint_free(h);
}

/* A listing of /d taken when dirsnap_begin says so; 1 if it did. */
static int
dirsnap_list(struct dirsnap *s, const char *key, char *const *names,
    size_t n, enum dirsnap_result res)
{
	char *dir;

	if (!dirsnap_begin(s, key, &dir))
		return 0;
	dirsnap_end(s, dir, names, n, res);
	free(dir);
	return 1;
}

static void
test_dirsnap_answers(void **state)
{
	struct dirsnap *s = dirsnap_new(8, 60000, 100);
	struct dirsnap *off = dirsnap_new(8, 0, 100);
	char *names[] = { "a", "b" }, *dir, *other;

	(void)state;
	assert_false(dirsnap_absent(s, "/d/x"));	/* never listed */
	assert_true(dirsnap_begin(s, "/d/x", &dir));
	assert_string_equal(dir, "/d");
	assert_false(dirsnap_begin(s, "/d/y", &other));	/* one under way */
	assert_null(other);
	dirsnap_note(s, "/d/w");		/* written meanwhile */
	dirsnap_end(s, "/d", names, 2, DIRSNAP_LISTED);
	free(dir);
	assert_true(dirsnap_absent(s, "/d/x"));
	assert_false(dirsnap_absent(s, "/d/a"));	/* listed */
	assert_false(dirsnap_absent(s, "/d/w"));	/* noted */
	assert_false(dirsnap_absent(s, "/e/x"));	/* another directory */
	assert_false(dirsnap_absent(s, "/d/x/y"));
	dirsnap_note(s, "/d/x");
	assert_false(dirsnap_absent(s, "/d/x"));
	assert_false(dirsnap_list(s, "/d/z", names, 0, DIRSNAP_LISTED));
							/* still young */
	/* The root's children. */
	assert_true(dirsnap_list(s, "/r", names, 1, DIRSNAP_LISTED));
	assert_true(dirsnap_absent(s, "/r"));
	assert_false(dirsnap_absent(s, "/a"));
	/* A failed listing teaches nothing, and the next may go. */
	assert_true(dirsnap_list(s, "/f/x", NULL, 0, DIRSNAP_FAILED));
	assert_false(dirsnap_absent(s, "/f/x"));
	assert_true(dirsnap_list(s, "/f/x", NULL, 0, DIRSNAP_LISTED));
	assert_true(dirsnap_absent(s, "/f/x"));
	/* An implied directory found in it: its listings are not used. */
	dirsnap_implied(s, "/f/imp");
	assert_false(dirsnap_absent(s, "/f/x"));
	assert_false(dirsnap_list(s, "/f/x", NULL, 0, DIRSNAP_LISTED));
	dirsnap_implied(s, "/g/imp");		/* never listed yet */
	assert_false(dirsnap_list(s, "/g/x", NULL, 0, DIRSNAP_LISTED));
	/* entry_timeout=0: nothing is kept. */
	assert_false(dirsnap_list(off, "/d/x", NULL, 0, DIRSNAP_LISTED));
	assert_false(dirsnap_absent(off, "/d/x"));
	dirsnap_free(off);
	dirsnap_free(s);
}

static void
test_dirsnap_bounds(void **state)
{
	struct dirsnap *s = dirsnap_new(1, 50, 3);
	char *names[] = { "a", "b", "c", "d" };

	(void)state;
	/* Too many names: not kept, not listed again for a while, and its
	 * slot not given to another directory meanwhile. */
	assert_true(dirsnap_list(s, "/d/x", names, 4, DIRSNAP_TOO_BIG));
	assert_false(dirsnap_absent(s, "/d/x"));
	assert_false(dirsnap_list(s, "/d/x", names, 1, DIRSNAP_LISTED));
	assert_false(dirsnap_list(s, "/e/x", names, 1, DIRSNAP_LISTED));
	dirsnap_free(s);

	/* Notes past the bound drop the snapshot too. */
	s = dirsnap_new(1, 50, 3);
	assert_true(dirsnap_list(s, "/d/x", names, 3, DIRSNAP_LISTED));
	assert_true(dirsnap_absent(s, "/d/x"));
	dirsnap_note(s, "/d/y");
	assert_false(dirsnap_absent(s, "/d/x"));
	dirsnap_free(s);

	/* A listing is answered from for max_age ms after it began; another
	 * directory takes the slot (and the first is forgotten). */
	s = dirsnap_new(1, 50, 3);
	assert_true(dirsnap_list(s, "/d/x", names, 1, DIRSNAP_LISTED));
	assert_true(dirsnap_absent(s, "/d/x"));
	usleep(80 * 1000);
	assert_false(dirsnap_absent(s, "/d/x"));
	assert_true(dirsnap_list(s, "/d/x", names, 1, DIRSNAP_LISTED));
	assert_true(dirsnap_absent(s, "/d/x"));
	assert_true(dirsnap_list(s, "/e/x", names, 1, DIRSNAP_LISTED));
	assert_true(dirsnap_absent(s, "/e/x"));
	assert_false(dirsnap_absent(s, "/d/x"));
	dirsnap_free(s);
}

/* Two directory keys (dir + "/x") whose hashes pick the same slot of 4
 * in a direct-mapped table. */
static void
dirsnap_two_meeting(char *a, char *b, size_t len)
{
	uint64_t h;
	int i;

	snprintf(a, len, "/c0");
	h = key_hash(a, strlen(a)) % 4;
	for (i = 1;; i++) {
		snprintf(b, len, "/c%d", i);
		if (key_hash(b, strlen(b)) % 4 == h)
			break;
	}
}

static void
test_dirsnap_ways(void **state)
{
	struct dirsnap *s = dirsnap_new(4, 60000, 100);
	char *names[] = { "a" };
	char a[32], b[32], ka[40], kb[40], k[40], *d1, *d2;
	int i;

	(void)state;
	/* Directories whose hashes meet are kept side by side. */
	dirsnap_two_meeting(a, b, sizeof(a));
	snprintf(ka, sizeof(ka), "%s/x", a);
	snprintf(kb, sizeof(kb), "%s/x", b);
	assert_true(dirsnap_list(s, ka, names, 1, DIRSNAP_LISTED));
	usleep(2000);
	assert_true(dirsnap_list(s, kb, names, 1, DIRSNAP_LISTED));
	assert_true(dirsnap_absent(s, ka));
	assert_true(dirsnap_absent(s, kb));
	assert_false(dirsnap_list(s, ka, names, 1, DIRSNAP_LISTED));
	/* Two more fill the group; a fifth takes the slot listed longest
	 * ago. */
	for (i = 1; i <= 3; i++) {
		usleep(2000);
		snprintf(k, sizeof(k), "/f%d/x", i);
		assert_true(dirsnap_list(s, k, names, 1, DIRSNAP_LISTED));
	}
	assert_false(dirsnap_absent(s, ka));
	assert_true(dirsnap_absent(s, kb));
	assert_true(dirsnap_absent(s, k));
	/* A listing under way keeps its slot: with every slot busy, none is
	 * given. */
	dirsnap_free(s);
	s = dirsnap_new(2, 60000, 100);
	assert_true(dirsnap_begin(s, "/g1/x", &d1));
	assert_true(dirsnap_begin(s, "/g2/x", &d2));
	assert_false(dirsnap_list(s, "/g3/x", names, 1, DIRSNAP_LISTED));
	dirsnap_end(s, d1, names, 1, DIRSNAP_LISTED);
	dirsnap_end(s, d2, names, 1, DIRSNAP_LISTED);
	free(d1);
	free(d2);
	assert_true(dirsnap_absent(s, "/g1/x"));
	assert_true(dirsnap_absent(s, "/g2/x"));
	dirsnap_free(s);
}

/* A failed write's versions go into the key's next write, until one
 * succeeds; only what that write covered is settled. */
static void
test_unsettled(void **state)
{
	struct unsettled *u = unsettled_new(2);
	struct dot a = { (char *)"n1", 7 }, b = { (char *)"n2", 3 },
	    c = { (char *)"n1", 9 };
	struct cc cc;
	uint64_t t1, t2;

	(void)state;
	cc_init(&cc);
	assert_int_equal(unsettled_cover(u, "/f", &cc), 0);
	assert_int_equal(cc.n, 0);

	unsettled_note(u, "/f", &a);
	unsettled_note(u, "/f", &b);
	t1 = unsettled_cover(u, "/f", &cc);
	assert_true(t1 != 0);
	assert_true(cc_contains(&cc, "n1", 7));
	assert_true(cc_contains(&cc, "n2", 3));
	cc_release(&cc);

	/* Another failure after the cover: a success settles nothing. */
	unsettled_note(u, "/f", &c);
	unsettled_settle(u, "/f", t1);
	assert_int_equal(unsettled_count(u), 1);
	cc_init(&cc);
	t2 = unsettled_cover(u, "/f", &cc);
	assert_true(cc_contains(&cc, "n1", 9));
	assert_true(cc_contains(&cc, "n2", 3));
	cc_release(&cc);
	unsettled_settle(u, "/f", t2);
	assert_int_equal(unsettled_count(u), 0);

	/* Full: the oldest key goes. */
	unsettled_note(u, "/a", &a);
	unsettled_note(u, "/b", &b);
	unsettled_note(u, "/c", &c);
	assert_int_equal(unsettled_count(u), 2);
	cc_init(&cc);
	assert_int_equal(unsettled_cover(u, "/a", &cc), 0);
	assert_true(unsettled_cover(u, "/c", &cc) != 0);
	assert_true(cc_contains(&cc, "n1", 9));
	cc_release(&cc);
	unsettled_free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_round_trip),
		cmocka_unit_test(test_meta_rejects_garbage),
		cmocka_unit_test(test_meta_default),
		cmocka_unit_test(test_siblings_order),
		cmocka_unit_test(test_siblings_grouping),
		cmocka_unit_test(test_siblings_context_replaces_one),
		cmocka_unit_test(test_siblings_exclude),
		cmocka_unit_test(test_sibling_names),
		cmocka_unit_test(test_wbuf_memory_and_spill),
		cmocka_unit_test(test_wbuf_spill_failure_keeps_errno),
		cmocka_unit_test(test_inode_lifetimes),
		cmocka_unit_test(test_lcache_take_once),
		cmocka_unit_test(test_lcache_writes_refuse_reads),
		cmocka_unit_test(test_lcache_ages),
		cmocka_unit_test(test_dirsnap_answers),
		cmocka_unit_test(test_dirsnap_ways),
		cmocka_unit_test(test_dirsnap_bounds),
		cmocka_unit_test(test_sizehint),
		cmocka_unit_test(test_unsettled),
	};

	return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
