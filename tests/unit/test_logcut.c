/*
 * test_logcut.c - LevelDB's logs cut back to their synced records
 * (store/logcut.h), on logs built record by record in LevelDB's format and
 * on real logs the store wrote through its zero-filling Env
 * (store/logenv.h), torn as a power loss would tear them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/logcut.h"
#include "store/logenv.h"
#include "store/store.h"
#include "tests/unit/tmpdir.h"

enum { FULL = 1, FIRST = 2, MIDDLE = 3, LAST = 4 };

/* A log being built as LevelDB's log::Writer lays it out. */
struct logbuf {
	uint8_t	*b;
	size_t	 len;
	size_t	 cap;
	size_t	 starts[64];	/* offset of each logical record */
	size_t	 nrec;
};

static void
lb_append(struct logbuf *lb, const void *p, size_t n)
{
	if (lb->len + n > lb->cap) {
		lb->cap = (lb->len + n) * 2;
		lb->b = xrealloc(lb->b, lb->cap);
	}
	if (p != NULL)
		memcpy(lb->b + lb->len, p, n);
	else
		memset(lb->b + lb->len, 0, n);
	lb->len += n;
}

/* One logical record of n bytes (a pattern seeded by seed). */
static void
lb_record(struct logbuf *lb, size_t n, unsigned seed)
{
	uint8_t *data = xmalloc(n ? n : 1), hdr[LOGCUT_HEADER];
	size_t left = n, done = 0;
	int begin = 1;

	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)('a' + (i + seed) % 26);
	do {
		size_t room = LOGCUT_BLOCK - lb->len % LOGCUT_BLOCK;
		size_t frag;
		uint8_t type;
		uint32_t crc;

		if (room < LOGCUT_HEADER) {
			lb_append(lb, NULL, room);	/* the trailer */
			room = LOGCUT_BLOCK;
		}
		if (begin)
			lb->starts[lb->nrec++] = lb->len;
		frag = left < room - LOGCUT_HEADER ? left :
		    room - LOGCUT_HEADER;
		type = begin && frag == left ? FULL : begin ? FIRST :
		    frag == left ? LAST : MIDDLE;
		crc = logcut_record_crc(type, data + done, frag);
		hdr[0] = crc & 0xff;
		hdr[1] = crc >> 8 & 0xff;
		hdr[2] = crc >> 16 & 0xff;
		hdr[3] = crc >> 24;
		hdr[4] = frag & 0xff;
		hdr[5] = frag >> 8;
		hdr[6] = type;
		lb_append(lb, hdr, sizeof(hdr));
		lb_append(lb, data + done, frag);
		done += frag;
		left -= frag;
		begin = 0;
	} while (left > 0);
	free(data);
}

struct fixture {
	char	dir[256];
	char	path[300];
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	if (tmpdir_make(f->dir, sizeof(f->dir), "logcut") < 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/000007.log", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	if (tmpdir_remove(f->dir) < 0)
		return -1;
	free(f);
	return 0;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

static uint8_t *
read_file(const char *path, size_t *n)
{
	struct stat sb;
	uint8_t *p;
	FILE *fp;

	assert_int_equal(stat(path, &sb), 0);
	*n = (size_t)sb.st_size;
	p = xmalloc(*n ? *n : 1);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fread(p, 1, *n, fp), *n);
	fclose(fp);
	return p;
}

/* Records of many sizes: small ones, one over two blocks, a trailer. */
static void
build_log(struct logbuf *lb)
{
	memset(lb, 0, sizeof(*lb));
	lb_record(lb, 100, 1);
	lb_record(lb, 3000, 2);
	lb_record(lb, 70000, 3);		/* FIRST, MIDDLE, LAST */
	lb_record(lb, 10, 4);
	/* End block 2 with 3 bytes to spare: the next starts block 3. */
	lb_record(lb, LOGCUT_BLOCK - lb->len % LOGCUT_BLOCK - LOGCUT_HEADER - 3,
	    5);
	lb_record(lb, 500, 6);
	lb_record(lb, 200, 7);
}

static int
cut(const char *path, struct logcut_result *res)
{
	char *err = NULL;
	int rc = logcut_file(path, res, &err);

	if (rc < 0)
		print_message("# logcut: %s\n", err);
	free(err);
	return rc;
}

static void
test_clean_log_untouched(void **state)
{
	struct fixture *f = *state;
	struct logcut_result res;
	struct logbuf lb;
	uint8_t *back;
	size_t n;

	build_log(&lb);
	assert_int_equal(lb.starts[5] % LOGCUT_BLOCK, 0);
	write_file(f->path, lb.b, lb.len);
	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.size, lb.len);
	assert_int_equal(res.kept, lb.len);
	assert_string_equal(res.why, "the end of the file");
	back = read_file(f->path, &n);
	assert_int_equal(n, lb.len);
	assert_memory_equal(back, lb.b, n);
	free(back);
	free(lb.b);
}

static void
test_zero_tail_cut(void **state)
{
	struct fixture *f = *state;
	struct logcut_result res;
	struct logbuf lb;
	size_t clean, n;
	uint8_t *back;

	build_log(&lb);
	clean = lb.len;
	lb_append(&lb, NULL, 3u << 20);		/* preallocated zeros */
	write_file(f->path, lb.b, lb.len);
	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.kept, clean);
	assert_int_equal(res.dropped_nonzero, 0);
	assert_string_equal(res.why, "preallocated space");
	back = read_file(f->path, &n);
	assert_int_equal(n, clean);
	assert_memory_equal(back, lb.b, clean);
	free(back);
	/* Cut once, it is clean: a second pass changes nothing. */
	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.kept, clean);
	assert_int_equal(res.size, clean);
	free(lb.b);
}

static void
test_torn_last_record_cut(void **state)
{
	struct fixture *f = *state;
	struct logcut_result res;
	struct logbuf lb;
	size_t last, n;
	uint8_t *back;

	/* A flipped byte in the last record, zeros after it. */
	build_log(&lb);
	last = lb.starts[lb.nrec - 1];
	lb.b[last + LOGCUT_HEADER + 50] ^= 0x40;
	lb_append(&lb, NULL, 1u << 20);
	write_file(f->path, lb.b, lb.len);
	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.kept, last);
	assert_string_equal(res.why, "a checksum mismatch");
	assert_true(res.dropped_nonzero > 0);
	back = read_file(f->path, &n);
	assert_int_equal(n, last);
	assert_memory_equal(back, lb.b, last);
	free(back);
	free(lb.b);

	/*
	 * The last record over three blocks, its middle page still zeros
	 * and its end on disk: cut before its first fragment.
	 */
	build_log(&lb);
	last = lb.len;
	lb_record(&lb, 80000, 9);
	memset(lb.b + (last / LOGCUT_BLOCK + 1) * LOGCUT_BLOCK, 0, 4096);
	write_file(f->path, lb.b, lb.len);
	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.kept, last);
	assert_string_equal(res.why, "preallocated space");
	free(lb.b);

	/* A header cut short by the end of the file. */
	build_log(&lb);
	last = lb.len;
	lb_record(&lb, 40, 10);
	write_file(f->path, lb.b, last + 5);
	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.kept, last);
	assert_string_equal(res.why,
	    "a header cut short by the end of the file");
	free(lb.b);
}

static void
test_damaged_synced_records_refused(void **state)
{
	struct fixture *f = *state;
	struct logcut_result res;
	struct logbuf lb;
	uint8_t *back;
	char *err = NULL;
	size_t n;

	/* A flipped byte in the second record: the third is whole. */
	build_log(&lb);
	lb.b[lb.starts[1] + LOGCUT_HEADER + 7] ^= 0x01;
	write_file(f->path, lb.b, lb.len);
	assert_int_equal(logcut_file(f->path, &res, &err), QERR_CORRUPT);
	assert_non_null(strstr(err, "synced records are damaged"));
	free(err);
	err = NULL;
	back = read_file(f->path, &n);
	assert_int_equal(n, lb.len);
	assert_memory_equal(back, lb.b, n);
	free(back);
	free(lb.b);

	/* A zeroed page in block 0, a whole record starting block 3. */
	build_log(&lb);
	memset(lb.b + 4096, 0, 4096);
	write_file(f->path, lb.b, lb.len);
	assert_int_equal(logcut_file(f->path, &res, &err), QERR_CORRUPT);
	assert_non_null(strstr(err, "a whole record at byte 98304"));
	free(err);
	free(lb.b);
}

/*
 * A write the disk refused (ENOSPC): LevelDB gave up its record after the
 * FIRST fragment, which filled block 0, and went on at block 1; the
 * environment wrote the fragment with the next record.  The log is
 * rewritten without it: the same records otherwise, laid out afresh, and
 * clean for a second pass.  With a bad checksum in the fragment it is
 * damage, refused as before.
 */
static void
test_abandoned_append_removed(void **state)
{
	struct fixture *f = *state;
	struct logcut_result res;
	struct logbuf lb, ab, want;
	uint8_t *back;
	char *err = NULL;
	size_t n, first;

	memset(&lb, 0, sizeof(lb));
	lb_record(&lb, 100, 1);
	lb_record(&lb, 1000, 2);
	/* The abandoned record: only its FIRST fragment, to block 0's end. */
	memset(&ab, 0, sizeof(ab));
	lb_append(&ab, NULL, lb.len);
	lb_record(&ab, 50000, 3);
	first = lb.len;
	lb_append(&lb, ab.b + first, LOGCUT_BLOCK - first);
	assert_int_equal(lb.b[first + 6], FIRST);
	free(ab.b);
	lb_record(&lb, 300, 4);		/* FULL at block 1 */
	lb_record(&lb, 40000, 5);	/* and one over two blocks */
	write_file(f->path, lb.b, lb.len);
	/* What LevelDB would have written without the failed record. */
	memset(&want, 0, sizeof(want));
	lb_record(&want, 100, 1);
	lb_record(&want, 1000, 2);
	lb_record(&want, 300, 4);
	lb_record(&want, 40000, 5);

	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.abandoned, 1);
	back = read_file(f->path, &n);
	assert_int_equal(n, want.len);
	assert_memory_equal(back, want.b, n);
	free(back);
	assert_int_equal(cut(f->path, &res), 0);
	assert_int_equal(res.abandoned, 0);
	assert_int_equal(res.kept, want.len);
	free(want.b);

	/* The same with the fragment's checksum broken: damage, refused. */
	lb.b[first + LOGCUT_HEADER + 10] ^= 0x01;
	write_file(f->path, lb.b, lb.len);
	assert_int_equal(logcut_file(f->path, &res, &err), QERR_CORRUPT);
	free(err);
	free(lb.b);
}

static void
note_line(const char *line, void *arg)
{
	int *notes = arg;

	print_message("# note: %s\n", line);
	(*notes)++;
}

static void
copy_dir(const char *from, const char *to)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from,
	    to);
	assert_int_equal(system(cmd), 0);
}

/* The one log of a LevelDB directory, read whole. */
static uint8_t *
read_log(const char *dir, char *path, size_t pathsz, size_t *n)
{
	char cmd[400];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls '%s'/*.log", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(path, (int)pathsz, p));
	path[strcspn(path, "\n")] = '\0';
	pclose(p);
	return read_file(path, n);
}

/*
 * Wait (10 s at most) for the live log in dir to reach its filler's first
 * chunk of zeros, written in the background past the first MiB.
 */
static void
wait_for_zeros(const char *dir)
{
	char path[400];
	uint8_t *log;
	size_t n = 0;
	int i;

	for (i = 0; i < 1000; i++) {
		log = read_log(dir, path, sizeof(path), &n);
		free(log);
		if (n >= (2u << 20))
			return;
		usleep(10 * 1000);
	}
	fail_msg("%s: %zu bytes after 10 s, no zeros ahead", path, n);
}

static int
open_copy(const char *dir, int *notes, struct store **st, char **err)
{
	struct store_options opt = { .note = note_line, .note_arg = notes };

	return store_open(dir, &opt, st, err);
}

static int
has_key(struct store *st, unsigned i)
{
	char key[32], *err = NULL;
	struct vset s;
	int rc;

	snprintf(key, sizeof(key), "/logcut/k%03u", i);
	rc = store_get(st, key, strlen(key), 1, &s, &err);
	if (rc < 0)
		fail_msg("get %s: %s", key, err);
	if (rc == 1) {
		assert_int_equal(s.n, 1);
		assert_int_equal(s.v[0].data_len, 64);
	}
	vset_release(&s);
	return rc;
}

/* Flip the byte where the record of key i names it. */
static void
tear_key(const char *dir, unsigned i)
{
	char path[400], name[16];
	uint8_t *log, *at;
	size_t n;

	log = read_log(dir, path, sizeof(path), &n);
	snprintf(name, sizeof(name), "k%03u", i);
	at = memmem(log, n, name, strlen(name));
	assert_non_null(at);
	*at ^= 0x20;
	write_file(path, log, n);
	free(log);
}

/* This program, for the second process below. */
static const char *self_path;

/*
 * The second process: logcut_dir on dir.  It is this program run anew
 * (not a fork of a process with LevelDB's threads, whose heap a leak check
 * would blame), and exits 0 when it was refused as "in use".
 */
static int
cut_as_another_process(const char *dir)
{
	char *err = NULL;
	int refused;

	refused = logcut_dir(dir, NULL, NULL, &err) == QERR_IO &&
	    strstr(err, "in use by another process") != NULL;
	if (!refused)
		fprintf(stderr, "logcut_dir %s: %s\n", dir, err ? err : "ok");
	free(err);
	return refused ? 0 : 1;
}

/*
 * Opening the live store dir again, from this process or another, is
 * refused before anything is cut, and LevelDB's lock stays held.
 */
static void
assert_second_open_refused(const char *live)
{
	struct store_options opt = { .create_if_missing = 1 };
	struct store *again = NULL;
	char path[400], *err = NULL;
	uint8_t *log;
	size_t n;
	int status;
	pid_t pid;

	assert_int_equal(store_open(live, &opt, &again, &err), QERR_IO);
	assert_null(again);
	assert_non_null(strstr(err, "in use by this process"));
	free(err);
	if ((pid = fork()) == 0) {
		execl(self_path, self_path, "--cut-dir", live, (char *)NULL);
		_exit(127);
	}
	assert_int_not_equal(pid, -1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	log = read_log(live, path, sizeof(path), &n);
	assert_true(n >= (1u << 20));		/* the zeros ahead: not cut */
	free(log);
}

static void
test_real_logs_after_a_crash(void **state)
{
	struct store_options opt = { .create_if_missing = 1 };
	struct fixture *f = *state;
	char live[300], copy[300], *err = NULL;
	char value[64];
	struct store *st;
	int notes = 0;
	unsigned i;

	snprintf(live, sizeof(live), "%s/live", f->dir);
	snprintf(copy, sizeof(copy), "%s/copy", f->dir);
	assert_int_equal(store_open(live, &opt, &st, &err), 0);
	memset(value, 'v', sizeof(value));
	for (i = 0; i < 200; i++) {
		char key[32];

		snprintf(key, sizeof(key), "/logcut/k%03u", i);
		if (store_put(st, key, strlen(key), NULL, "n1", 1000, 0, "m",
		    1, value, sizeof(value), NULL, NULL, &err) < 0)
			fail_msg("put: %s", err);
	}
	/* The log is written over zeros: longer than its records. */
	wait_for_zeros(live);
	assert_second_open_refused(live);

	/*
	 * Three copies of what a SIGKILL leaves (the page cache survives
	 * it), taken while the store is open, its log ending in zeros.
	 */
	for (i = 1; i <= 3; i++) {
		snprintf(copy, sizeof(copy), "%s/copy%u", f->dir, i);
		copy_dir(live, copy);
	}
	store_close(st);

	snprintf(copy, sizeof(copy), "%s/copy1", f->dir);
	assert_int_equal(open_copy(copy, &notes, &st, &err), 0);
	assert_int_equal(notes, 0);		/* zeros only: nothing said */
	for (i = 0; i < 200; i++)
		assert_int_equal(has_key(st, i), 1);
	store_close(st);

	/* A power loss tore the last write: it alone goes, and is noted. */
	snprintf(copy, sizeof(copy), "%s/copy2", f->dir);
	tear_key(copy, 199);
	assert_int_equal(open_copy(copy, &notes, &st, &err), 0);
	assert_int_equal(notes, 1);
	for (i = 0; i < 199; i++)
		assert_int_equal(has_key(st, i), 1);
	assert_int_equal(has_key(st, 199), 0);
	store_close(st);

	/* A synced write damaged: the store refuses to open. */
	snprintf(copy, sizeof(copy), "%s/copy3", f->dir);
	tear_key(copy, 5);
	assert_int_equal(open_copy(copy, &notes, &st, &err), QERR_CORRUPT);
	assert_null(st);
	assert_non_null(strstr(err, "synced records are damaged"));
	free(err);
}

/*
 * A write bigger than the zeros kept ahead appends past them; the small
 * writes after it are back over zeros; a crash copy and a clean reopen
 * both read everything back.
 */
static void
test_write_past_the_zeros(void **state)
{
	/* The value in LevelDB's log, not a blob: one write of 10 MiB, as a
	 * group commit of many smaller ones can make. */
	struct store_options opt = { .create_if_missing = 1,
	    .blob_min = SIZE_MAX };
	struct fixture *f = *state;
	size_t big = 10u << 20, n;
	char live[300], copy[300], path[400], *err = NULL, *value;
	struct store *st;
	struct vset s;
	uint8_t *log;
	int notes = 0;
	unsigned i;

	snprintf(live, sizeof(live), "%s/live", f->dir);
	snprintf(copy, sizeof(copy), "%s/copy", f->dir);
	assert_int_equal(store_open(live, &opt, &st, &err), 0);
	value = xmalloc(big);
	for (i = 0; i < big; i++)
		value[i] = (char)('A' + i % 53);
	if (store_put(st, "/logcut/big", 11, NULL, "n1", 1000, 0, "m", 1,
	    value, big, NULL, NULL, &err) < 0)
		fail_msg("put: %s", err);
	for (i = 0; i < 50; i++) {
		char key[32], small[64];

		snprintf(key, sizeof(key), "/logcut/k%03u", i);
		memset(small, 'v', sizeof(small));
		if (store_put(st, key, strlen(key), NULL, "n1", 1000, 0, "m",
		    1, small, sizeof(small), NULL, NULL, &err) < 0)
			fail_msg("put: %s", err);
	}
	log = read_log(live, path, sizeof(path), &n);
	assert_true(n > big);
	free(log);
	copy_dir(live, copy);
	store_close(st);

	assert_int_equal(open_copy(copy, &notes, &st, &err), 0);
	assert_int_equal(notes, 0);
	assert_int_equal(store_get(st, "/logcut/big", 11, 1, &s, &err), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].data_len, big);
	assert_memory_equal(s.v[0].data, value, big);
	vset_release(&s);
	for (i = 0; i < 50; i++)
		assert_int_equal(has_key(st, i), 1);
	store_close(st);
	free(value);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_log_untouched,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_tail_cut,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_record_cut,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_damaged_synced_records_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_append_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_logs_after_a_crash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_past_the_zeros,
		    setup, teardown),
	};

	if (argc == 3 && strcmp(argv[1], "--cut-dir") == 0)
		return cut_as_another_process(argv[2]);
	self_path = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
