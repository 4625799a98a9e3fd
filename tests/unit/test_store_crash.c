/*
 * test_store_crash.c - a SIGKILL at any moment loses no acknowledged write
 * and leaves the database openable; and store_open and store_put fail
 * cleanly when they must.
 *
 * The crash test starts a real child (this program run again with
 * --crash-child) that opens the store and runs several writer threads
 * (and, in some rounds, a deleter of keys written in earlier rounds).
 * After each store_put returns success the child writes one line to a pipe
 * ("P key" or "D key"; one write() of less than PIPE_BUF, so lines never
 * interleave).  The parent reads acknowledgements until a random count,
 * SIGKILLs the child, drains the pipe (lines written before the kill count
 * too), reopens the store and checks every key acknowledged in any round
 * so far:
 *   - a put key holds exactly one version, live, with exactly the bytes
 *     derived from the key (some values are 100 KB-2 MB, so a write spans
 *     several 1 MiB chunks);
 *   - a deleted key holds exactly one version, a tombstone.
 * Keys present but never acknowledged (the put in flight at the kill) must
 * be whole too.  Every round reuses the same directory, so each reopen
 * recovers from the previous crash as well.
 *
 * QFS_CRASH_SEED=N in the environment replays a run's kill points and
 * choice of deletes (the seed is printed); the timing of the kill is the
 * scheduler's.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define CRASH_ROUNDS		8
#define CRASH_WRITERS		4
#define CRASH_ACKS_MIN		50
#define CRASH_ACKS_MAX		2000
#define CRASH_DELETES_MAX	100	/* keys a delete round removes */
#define CRASH_PUTS_MAX		1000000	/* per thread: never reached */
#define CRASH_ACK_DEADLINE_MS	60000	/* to reach the kill point */
#define CRASH_DRAIN_DEADLINE_MS	30000	/* to read the rest after the kill */
#define CRASH_NODE		"crash"

/* ---- values derived from their key ---- */

static uint64_t
fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * The length of key's value: mostly 0..2000 bytes; one key in 96 gets
 * 100 KiB..2 MiB (a quarter of those exactly one chunk), so values cross
 * the 1 MiB chunk boundary.
 */
static size_t
value_len_for(const char *key)
{
	uint64_t r = splitmix64(fnv1a64(key));

	if (r % 96 == 0) {
		if ((r >> 8) % 4 == 0)
			return STORE_CHUNK_SIZE;
		return (100u << 10) + (size_t)((r >> 16) %
		    ((2u << 20) - (100u << 10) + 1));
	}
	return (size_t)((r >> 16) % 2001);
}

/* Fill buf[0..len) with the bytes of key's value. */
static void
value_fill(const char *key, unsigned char *buf, size_t len)
{
	uint64_t x = splitmix64(fnv1a64(key) ^ 0x76616c7565ULL);
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		x = splitmix64(x);
		memcpy(buf + i, &x, 8);
	}
	x = splitmix64(x);
	for (; i < len; i++, x >>= 8)
		buf[i] = (unsigned char)x;
}

static int64_t
wall_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The crash child while it runs: a failing check longjmps out of the test,
 * so the teardown kills and reaps it rather than leave it writing.
 */
static pid_t crash_child_pid;

static void
crash_child_reap(void)
{
	int status;

	if (crash_child_pid > 0) {
		kill(crash_child_pid, SIGKILL);
		waitpid(crash_child_pid, &status, 0);
	}
	crash_child_pid = 0;
}

/* ---- temporary directories ---- */

static int
remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int
unlock_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, 0700);
	return 0;
}

/* Remove path and everything under it, restoring permissions first. */
static void
remove_tree(const char *path)
{
	nftw(path, unlock_entry, 16, FTW_PHYS);
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
setup_tmpdir(void **state)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	dir = xmalloc(strlen(base) + sizeof "/qfs-crash.XXXXXX");
	sprintf(dir, "%s/qfs-crash.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		print_error("mkdtemp %s: %s\n", dir, strerror(errno));
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int
teardown_tmpdir(void **state)
{
	char *dir = *state;

	crash_child_reap();
	remove_tree(dir);
	free(dir);
	return 0;
}

/* A malloc'd "dir/name". */
static char *
path_join(const char *dir, const char *name)
{
	char *p = xmalloc(strlen(dir) + 1 + strlen(name) + 1);

	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* ---- the child: writers and a deleter that acknowledge on a pipe ---- */

struct child {
	struct store	*st;
	int		 ack_fd;
	unsigned	 round;
	char		**del;		/* keys to delete */
	size_t		 ndel;
};

struct child_thread {
	pthread_t	 tid;
	struct child	*c;
	unsigned	 idx;
};

/* One line to the parent in one write(); any failure ends the child. */
static void
child_say(int fd, char kind, const char *text)
{
	char line[512];
	int len;

	len = snprintf(line, sizeof line, "%c %s\n", kind, text);
	if (len < 0 || (size_t)len >= sizeof line)
		len = snprintf(line, sizeof line, "E line too long\n");
	if (write(fd, line, (size_t)len) != len)
		_exit(4);
}

/* Report a failure to the parent and end the child at once. */
static void
child_fail(struct child *c, const char *what, const char *key, int rc,
    const char *err)
{
	char msg[400];

	snprintf(msg, sizeof msg, "%s %s: %s (%s)", what, key,
	    err != NULL ? err : "no message", qerr_name(rc));
	child_say(c->ack_fd, 'E', msg);
	_exit(3);
}

static void *
child_writer(void *arg)
{
	struct child_thread *t = arg;
	struct child *c = t->c;
	unsigned char *value;
	char key[128], *err = NULL;
	size_t len;
	unsigned n;
	int rc;

	for (n = 0; n < CRASH_PUTS_MAX; n++) {
		snprintf(key, sizeof key, "/crash/r%u/t%u-k%u", c->round,
		    t->idx, n);
		len = value_len_for(key);
		value = xmalloc(len + 1);
		value_fill(key, value, len);
		rc = store_put(c->st, key, strlen(key), NULL, CRASH_NODE,
		    wall_clock_us(), 0, NULL, 0, value, len, NULL, NULL, &err);
		free(value);
		if (rc < 0)
			child_fail(c, "store_put", key, rc, err);
		child_say(c->ack_fd, 'P', key);
	}
	return NULL;
}

/* Delete each key of c->del: a tombstone replacing what the key holds. */
static void *
child_deleter(void *arg)
{
	struct child_thread *t = arg;
	struct child *c = t->c;
	struct vset s;
	char *err = NULL;
	size_t i;
	int rc;

	for (i = 0; i < c->ndel; i++) {
		const char *key = c->del[i];

		rc = store_get(c->st, key, strlen(key), 0, &s, &err);
		if (rc < 0)
			child_fail(c, "store_get", key, rc, err);
		if (rc == 0)
			child_fail(c, "store_get", key, QERR_STALE,
			    "acknowledged key is absent before its delete");
		rc = store_put(c->st, key, strlen(key), &s.cc, CRASH_NODE,
		    wall_clock_us(), 1, NULL, 0, NULL, 0, NULL, NULL, &err);
		vset_release(&s);
		if (rc < 0)
			child_fail(c, "store_put tombstone", key, rc, err);
		child_say(c->ack_fd, 'D', key);
	}
	return NULL;
}

/* Read the keys to delete, one a line, from path. */
static void
child_read_deletes(struct child *c, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		child_fail(c, "fopen", path, QERR_IO, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		c->del = xreallocarray(c->del, c->ndel + 1, sizeof *c->del);
		c->del[c->ndel++] = xstrdup(line);
	}
	free(line);
	fclose(f);
}

/*
 * The child's whole life: open, write until killed; it is this program
 * run again as "--crash-child DBDIR ROUND ACK_FD DELETE_LIST|-".  It is a
 * fresh exec, not just a fork: LevelDB's background thread is a process-wide
 * singleton that a fork does not copy, so a forked child of a process that
 * has opened a store waits forever for its first compaction.  Never
 * returns: every path ends in _exit (or the parent's SIGKILL).
 */
static const char *self_exe = "/proc/self/exe";	/* see self_exe_find */

static void __attribute__((noreturn))
child_main(char **argv)
{
	struct store_options opt = { .create_if_missing = 1 };
	struct child c;
	struct child_thread t[CRASH_WRITERS + 1];
	const char *dbdir = argv[2];
	char *err = NULL;
	size_t i, nthreads;
	int rc;

	memset(&c, 0, sizeof c);
	c.round = (unsigned)strtoul(argv[3], NULL, 10);
	c.ack_fd = (int)strtol(argv[4], NULL, 10);
	if (strcmp(argv[5], "-") != 0)
		child_read_deletes(&c, argv[5]);
	nthreads = CRASH_WRITERS + (c.ndel > 0);

	if ((rc = store_open(dbdir, &opt, &c.st, &err)) < 0)
		child_fail(&c, "store_open", dbdir, rc, err);
	for (i = 0; i < nthreads; i++) {
		t[i].c = &c;
		t[i].idx = (unsigned)i;
		if (pthread_create(&t[i].tid, NULL, i < CRASH_WRITERS ?
		    child_writer : child_deleter, &t[i]) != 0)
			child_fail(&c, "pthread_create", "", QERR_IO,
			    strerror(errno));
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i].tid, NULL);
	/* Not reached in practice: wait for the kill. */
	for (;;)
		pause();
}

/* ---- the parent's ledger of acknowledged keys ---- */

enum key_state {
	KEY_LIVE,		/* put acknowledged */
	KEY_DELETED,		/* tombstone acknowledged */
	KEY_DELETING		/* delete sent, not acknowledged: either */
};

struct tracked {
	char		*key;
	int		 state;
	unsigned	 round;		/* the round that put it */
};

struct ledger {
	struct tracked	*k;
	size_t		 n;
	char		**round_keys;	/* this round's acknowledged puts */
	size_t		 nround;
	size_t		*del;		/* indexes in k of this round's deletes */
	size_t		 ndel;
	char		 partial[1024];	/* an unfinished line from the pipe */
	size_t		 partial_len;
	size_t		 acks;
	unsigned	 round;		/* the round under way */
	char		*child_error;
};

static void
ledger_release(struct ledger *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->k[i].key);
	free(l->k);
	free(l->round_keys);
	free(l->del);
	free(l->child_error);
	memset(l, 0, sizeof *l);
}

/* Take one line from the child. */
static void
ledger_line(struct ledger *l, const char *line)
{
	size_t i;

	if (line[0] == 'P' && line[1] == ' ') {
		l->k = xreallocarray(l->k, l->n + 1, sizeof *l->k);
		l->k[l->n].key = xstrdup(line + 2);
		l->k[l->n].state = KEY_LIVE;
		l->k[l->n].round = l->round;
		l->round_keys = xreallocarray(l->round_keys, l->nround + 1,
		    sizeof *l->round_keys);
		l->round_keys[l->nround++] = l->k[l->n].key;
		l->n++;
		l->acks++;
		return;
	}
	if (line[0] == 'D' && line[1] == ' ') {
		for (i = 0; i < l->ndel; i++) {
			if (strcmp(l->k[l->del[i]].key, line + 2) == 0) {
				l->k[l->del[i]].state = KEY_DELETED;
				l->acks++;
				return;
			}
		}
		fail_msg("child acknowledged a delete never asked: %s", line);
	}
	if (line[0] == 'E' && line[1] == ' ') {
		if (l->child_error == NULL)
			l->child_error = xstrdup(line + 2);
		return;
	}
	fail_msg("unexpected line from the child: \"%s\"", line);
}

/*
 * Read from the pipe until `want` acknowledgements (0: until EOF) or the
 * deadline.  Returns 1 at EOF, 0 when want was reached.
 */
static int
ledger_read(struct ledger *l, int fd, size_t want, int64_t deadline_ms)
{
	char buf[8192];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	size_t i;
	int64_t left;
	int prc;

	while (want == 0 || l->acks < want) {
		left = deadline_ms - monotonic_ms();
		if (left <= 0)
			fail_msg("child stuck: %zu acknowledgements, waiting "
			    "for %zu", l->acks, want);
		prc = poll(&pfd, 1, (int)left);
		if (prc < 0 && errno == EINTR)
			continue;
		assert_true(prc >= 0);
		if (prc == 0)
			continue;
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0) {
			if (l->partial_len != 0)
				fail_msg("torn line from the child: \"%.*s\"",
				    (int)l->partial_len, l->partial);
			return 1;
		}
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != '\n') {
				assert_true(l->partial_len <
				    sizeof l->partial - 1);
				l->partial[l->partial_len++] = buf[i];
				continue;
			}
			l->partial[l->partial_len] = '\0';
			ledger_line(l, l->partial);
			l->partial_len = 0;
		}
	}
	return 0;
}

/* ---- checks after the crash ---- */

/*
 * NULL when s is exactly one live version holding key's value; else a
 * malloc'd description of what was read.
 */
static char *
describe_live_mismatch(const char *key, const struct vset *s, int with_data)
{
	const struct version *v = &s->v[0];
	unsigned char *want;
	size_t len = value_len_for(key), i;
	char *msg = NULL;

	if (s->n != 1 || v->tombstone) {
		if (asprintf(&msg, "%zu version(s), first %s", s->n,
		    s->n == 0 ? "none" : v->tombstone ? "a tombstone" :
		    "live") < 0)
			msg = NULL;
		return msg != NULL ? msg : xstrdup("wrong versions");
	}
	if (v->data_len != len) {
		if (asprintf(&msg, "%zu bytes, expected %zu", v->data_len,
		    len) < 0)
			msg = NULL;
		return msg != NULL ? msg : xstrdup("wrong length");
	}
	if (len == 0 || !with_data)
		return NULL;
	if (v->data == NULL)
		return xstrdup("no data loaded");
	want = xmalloc(len);
	value_fill(key, want, len);
	if (memcmp(want, v->data, len) != 0) {
		for (i = 0; i < len; i++)
			if (want[i] != ((const unsigned char *)v->data)[i])
				break;
		if (asprintf(&msg, "%zu bytes, differing from byte %zu "
		    "(chunk %zu): 0x%02x, expected 0x%02x", len, i,
		    i / STORE_CHUNK_SIZE,
		    ((const unsigned char *)v->data)[i], want[i]) < 0)
			msg = NULL;
		if (msg == NULL)
			msg = xstrdup("wrong bytes");
	}
	free(want);
	return msg;
}

/*
 * Assert key reads back in the state the ledger expects; with_data, the
 * value's bytes too, else its length only (a head).  A key whose delete was
 * not acknowledged may be in either state, and is recorded as it reads.
 */
static void
check_key(struct store *st, struct tracked *t, int with_data)
{
	struct vset s;
	char *err = NULL, *why;
	int rc;

	rc = store_get(st, t->key, strlen(t->key), with_data, &s, &err);
	if (rc < 0)
		fail_msg("store_get %s: %s (%s)", t->key, err, qerr_name(rc));
	if (rc == 0)
		fail_msg("%s: acknowledged %s, read back absent", t->key,
		    t->state == KEY_LIVE ? "put" : "delete");
	if (t->state == KEY_DELETED || (t->state == KEY_DELETING &&
	    s.n == 1 && s.v[0].tombstone)) {
		if (s.n != 1 || !s.v[0].tombstone)
			fail_msg("%s: acknowledged delete, read back %zu "
			    "version(s), %zu live", t->key, s.n,
			    vset_live_count(&s));
		t->state = KEY_DELETED;
	} else {
		why = describe_live_mismatch(t->key, &s, with_data);
		if (why != NULL)
			fail_msg("%s: expected one live version of %zu bytes "
			    "(%s), read %s", t->key, value_len_for(t->key),
			    t->state == KEY_LIVE ? "acknowledged put" :
			    "unacknowledged delete", why);
		t->state = KEY_LIVE;
	}
	vset_release(&s);
}

static int
compare_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct listing {
	char	**names;
	size_t	 n;
};

static int
collect_name(void *arg, const char *name, size_t name_len,
    const struct vset *s)
{
	struct listing *ls = arg;

	ls->names = xreallocarray(ls->names, ls->n + 1, sizeof *ls->names);
	ls->names[ls->n++] = xstrndup(name, name_len);
	return 0;
}

/*
 * Keys of this round present on disk but never acknowledged: at most the
 * one put in flight per writer, and each must be whole.
 */
static void
check_unacknowledged(struct store *st, struct ledger *l, unsigned round)
{
	struct listing ls = { NULL, 0 };
	struct tracked t;
	char dir[64], *err = NULL, *key;
	size_t i, extra = 0;
	int rc;

	snprintf(dir, sizeof dir, "/crash/r%u", round);
	rc = store_list(st, dir, strlen(dir), NULL, 0, collect_name, &ls,
	    NULL, &err);
	if (rc < 0)
		fail_msg("store_list %s: %s", dir, err);
	qsort(l->round_keys, l->nround, sizeof *l->round_keys,
	    compare_str_ptr);
	for (i = 0; i < ls.n; i++) {
		key = path_join(dir, ls.names[i]);
		if (bsearch(&key, l->round_keys, l->nround,
		    sizeof *l->round_keys, compare_str_ptr) == NULL) {
			extra++;
			t.key = key;
			t.state = KEY_LIVE;
			check_key(st, &t, 1);
		}
		free(key);
		free(ls.names[i]);
	}
	free(ls.names);
	if (ls.n < l->nround)
		fail_msg("%s lists %zu keys, %zu were acknowledged", dir,
		    ls.n, l->nround);
	if (extra > CRASH_WRITERS)
		fail_msg("%s holds %zu unacknowledged keys, at most %d puts "
		    "were in flight", dir, extra, CRASH_WRITERS);
}

struct blob_count {
	struct store	*st;
	size_t		 named;		/* versions whose data is a blob */
};

static int
count_named_blobs(void *arg, uint64_t h, const char *key, size_t klen)
{
	struct blob_count *bc = arg;
	struct vset s;
	char *err = NULL;
	size_t i;

	(void)h;
	if (store_get(bc->st, key, klen, 0, &s, &err) < 0)
		fail_msg("store_get %.*s: %s", (int)klen, key, err);
	for (i = 0; i < s.n; i++)
		bc->named += s.v[i].in_blob != 0;
	vset_release(&s);
	return 0;
}

/*
 * After a reopen the blob directory holds exactly the blobs records name:
 * none lost (every value read back whole, above) and none left over from
 * the crash (store_open removes those).
 */
static void
check_blobs(struct store *st, const char *dbdir, unsigned round)
{
	struct blob_count bc = { st, 0 };
	char *dir = path_join(dbdir, "blobs"), *err = NULL;
	struct dirent *e;
	size_t files = 0;
	DIR *d;

	if (store_scan_hash(st, 0, UINT64_MAX, count_named_blobs, &bc,
	    &err) < 0)
		fail_msg("store_scan_hash: %s", err);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		files += e->d_name[0] != '.';
	closedir(d);
	if (files != bc.named)
		fail_msg("round %u: %zu files in %s, records name %zu blobs",
		    round, files, dir, bc.named);
	printf("# round %u: %zu blob files, each named by a record\n", round,
	    files);
	free(dir);
}

/* Pick up to max random live keys from earlier rounds for deletion. */
static void
choose_deletes(struct ledger *l, unsigned *seed, size_t max)
{
	size_t tries;

	l->ndel = 0;
	l->del = xreallocarray(l->del, max + 1, sizeof *l->del);
	for (tries = 0; l->n > 0 && l->ndel < max && tries < 4 * max;
	    tries++) {
		size_t pick = (size_t)rand_r(seed) % l->n;

		if (l->k[pick].state != KEY_LIVE)
			continue;
		l->k[pick].state = KEY_DELETING;
		l->del[l->ndel++] = pick;
	}
}

/*
 * One round: fork a loaded child, kill it after `target` acknowledgements,
 * reopen and check everything acknowledged so far.
 */
static void
crash_round(const char *tmpdir, const char *dbdir, struct ledger *l,
    unsigned round, unsigned *seed)
{
	struct store_options opt = { .create_if_missing = 0 };
	struct store *st = NULL;
	char *err = NULL, *delpath = NULL, arg_round[16], arg_fd[16];
	char *child_argv[7];
	size_t target, i, acks_at_kill;
	int64_t t_start, t_killed, t_checked;
	int fds[2], status, rc;
	FILE *f;
	pid_t pid;

	target = CRASH_ACKS_MIN + (size_t)rand_r(seed) %
	    (CRASH_ACKS_MAX - CRASH_ACKS_MIN + 1);
	l->nround = 0;
	l->acks = 0;
	l->round = round;
	l->ndel = 0;
	if (round % 2 == 1)
		choose_deletes(l, seed, CRASH_DELETES_MAX);
	if (l->ndel > 0) {
		delpath = path_join(tmpdir, "delete-list");
		assert_non_null(f = fopen(delpath, "w"));
		for (i = 0; i < l->ndel; i++)
			fprintf(f, "%s\n", l->k[l->del[i]].key);
		assert_int_equal(fclose(f), 0);
	}

	t_start = monotonic_ms();
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	snprintf(arg_round, sizeof arg_round, "%u", round);
	snprintf(arg_fd, sizeof arg_fd, "%d", fds[1]);
	child_argv[0] = "test_store_crash";
	child_argv[1] = "--crash-child";
	child_argv[2] = (char *)dbdir;
	child_argv[3] = arg_round;
	child_argv[4] = arg_fd;
	child_argv[5] = delpath != NULL ? delpath : "-";
	child_argv[6] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Only async-signal-safe calls until the exec. */
		if (fcntl(fds[1], F_SETFD, 0) == 0)
			execv(self_exe, child_argv);
		_exit(5);
	}
	crash_child_pid = pid;
	close(fds[1]);

	if (ledger_read(l, fds[0], target, monotonic_ms() +
	    CRASH_ACK_DEADLINE_MS) == 1 || l->child_error != NULL) {
		crash_child_reap();
		close(fds[0]);
		fail_msg("round %u: child ended after %zu acknowledgements: "
		    "%s", round, l->acks, l->child_error != NULL ?
		    l->child_error : "no message");
	}
	acks_at_kill = l->acks;
	assert_int_equal(kill(pid, SIGKILL), 0);
	ledger_read(l, fds[0], 0, monotonic_ms() + CRASH_DRAIN_DEADLINE_MS);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	crash_child_pid = 0;
	if (l->child_error != NULL)
		fail_msg("round %u: child failed: %s", round, l->child_error);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("round %u: child was not killed by SIGKILL (status "
		    "0x%x)", round, status);

	t_killed = monotonic_ms();
	rc = store_open(dbdir, &opt, &st, &err);
	if (rc < 0)
		fail_msg("round %u: reopen after SIGKILL failed: %s (%s)",
		    round, err, qerr_name(rc));
	/*
	 * Every key's versions and length each round; the bytes of this
	 * round's keys and of keys a delete touched, and of all keys after
	 * the last round (reading every value each round costs too long).
	 */
	for (i = 0; i < l->n; i++)
		check_key(st, &l->k[i], l->k[i].round == round ||
		    l->k[i].state != KEY_LIVE || round + 1 == CRASH_ROUNDS);
	check_unacknowledged(st, l, round);
	check_blobs(st, dbdir, round);
	store_close(st);
	if (delpath != NULL)
		unlink(delpath);
	free(delpath);
	t_checked = monotonic_ms();
	printf("# round %u: killed after %zu acks (target %zu), %zu with the "
	    "drained ones, %zu delete(s) asked; reopened, %zu keys checked "
	    "(load %.1f s, check %.1f s)\n", round, acks_at_kill, target,
	    l->acks, l->ndel, l->n, (t_killed - t_start) / 1e3,
	    (t_checked - t_killed) / 1e3);
	fflush(stdout);
}

static void
test_sigkill_loses_no_acknowledged_write(void **state)
{
	const char *tmp = *state, *env;
	struct ledger l;
	char *dbdir = path_join(tmp, "db");
	unsigned seed, round;

	memset(&l, 0, sizeof l);
	env = getenv("QFS_CRASH_SEED");
	seed = env != NULL ? (unsigned)strtoul(env, NULL, 10) :
	    (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
	printf("# QFS_CRASH_SEED=%u\n", seed);
	for (round = 0; round < CRASH_ROUNDS; round++)
		crash_round(tmp, dbdir, &l, round, &seed);
	ledger_release(&l);
	free(dbdir);
}

/* ---- failure paths ---- */

/* store_open of dir must fail with a message and leave *out NULL. */
static void
expect_open_fails(const char *dir, int create)
{
	struct store_options opt = { .create_if_missing = create };
	struct store *st = NULL;
	char *err = NULL;
	int rc;

	rc = store_open(dir, &opt, &st, &err);
	if (rc >= 0) {
		store_close(st);
		fail_msg("store_open %s succeeded, expected a failure", dir);
	}
	assert_null(st);
	assert_non_null(err);
	assert_true(err[0] != '\0');
	printf("# store_open \"%s\" fails as expected: %s (%s)\n", dir, err,
	    qerr_name(rc));
	free(err);
}

static void
test_open_failure_paths(void **state)
{
	const char *tmp = *state;
	struct store_options opt = { .create_if_missing = 1 };
	struct store *st = NULL;
	char *file, *under_file, *ro, *under_ro, *missing, *db, *err = NULL;
	int fd;

	/* A path under a regular file cannot be created, even by root. */
	file = path_join(tmp, "file");
	under_file = path_join(file, "sub");
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	expect_open_fails(under_file, 1);

	/* An unwritable parent: only meaningful when not root. */
	ro = path_join(tmp, "ro");
	under_ro = path_join(ro, "sub");
	assert_int_equal(mkdir(ro, 0700), 0);
	assert_int_equal(chmod(ro, 0500), 0);
	if (geteuid() != 0)
		expect_open_fails(under_ro, 1);
	else
		printf("# running as root: chmod 0500 does not stop root, "
		    "the path under a file covers it\n");
	chmod(ro, 0700);

	/* A missing directory without create_if_missing; no directory. */
	missing = path_join(tmp, "missing");
	expect_open_fails(missing, 0);
	/* A failed open changes nothing on disk. */
	assert_int_equal(access(missing, F_OK), -1);
	expect_open_fails(missing, 0);	/* and still fails the second time */
	expect_open_fails("", 1);

	/* A directory already open (by this or another process) is locked. */
	db = path_join(tmp, "db");
	if (store_open(db, &opt, &st, &err) < 0)
		fail_msg("store_open %s: %s", db, err);
	expect_open_fails(db, 1);
	store_close(st);

	free(file);
	free(under_file);
	free(ro);
	free(under_ro);
	free(missing);
	free(db);
}

/* Read key and assert one live version with exactly want[0..len). */
static void
assert_value_is(struct store *st, const char *key, const void *want,
    size_t len)
{
	struct vset s;
	char *err = NULL;
	int rc;

	rc = store_get(st, key, strlen(key), 1, &s, &err);
	if (rc < 0)
		fail_msg("store_get %s: %s", key, err);
	assert_int_equal(rc, 1);
	assert_int_equal(s.n, 1);
	assert_false(s.v[0].tombstone);
	assert_int_equal(s.v[0].data_len, len);
	if (len > 0)
		assert_memory_equal(s.v[0].data, want, len);
	vset_release(&s);
}

/* Overwrite key (replacing what it holds) with value; the store's rc. */
static int
overwrite(struct store *st, const char *key, const void *value, size_t len,
    char **err)
{
	struct vset s;
	int rc;

	rc = store_get(st, key, strlen(key), 0, &s, err);
	if (rc < 0)
		return rc;
	rc = store_put(st, key, strlen(key), &s.cc, CRASH_NODE,
	    wall_clock_us(), 0, NULL, 0, value, len, NULL, NULL, err);
	vset_release(&s);
	return rc;
}

static void
test_injected_write_failure(void **state)
{
	const char *tmp = *state;
	struct store_options opt = { .create_if_missing = 1 };
	struct store *st = NULL;
	struct vset s;
	unsigned char *big1, *big2;
	size_t big1_len = 2 * STORE_CHUNK_SIZE + 12345;
	size_t big2_len = STORE_CHUNK_SIZE + 1;
	char *db = path_join(tmp, "db"), *err = NULL;
	int rc;

	big1 = xmalloc(big1_len);
	big2 = xmalloc(big2_len);
	value_fill("big1", big1, big1_len);
	value_fill("big2", big2, big2_len);
	if (store_open(db, &opt, &st, &err) < 0)
		fail_msg("store_open %s: %s", db, err);

	/* A failed overwrite leaves the previous value. */
	assert_int_equal(overwrite(st, "/f/a", "one", 3, &err), 0);
	store_fail_next_writes(st, 1);
	rc = overwrite(st, "/f/a", "two", 3, &err);
	assert_int_equal(rc, QERR_IO);
	assert_non_null(err);
	printf("# injected failure reads: %s\n", err);
	free(err);
	err = NULL;
	assert_value_is(st, "/f/a", "one", 3);

	/* Only n writes fail: the next one goes through. */
	assert_int_equal(overwrite(st, "/f/a", "two", 3, &err), 0);
	assert_value_is(st, "/f/a", "two", 3);

	/* A failed first write leaves the key absent. */
	store_fail_next_writes(st, 1);
	assert_int_equal(overwrite(st, "/f/b", "b", 1, &err), QERR_IO);
	free(err);
	err = NULL;
	assert_int_equal(store_get(st, "/f/b", 4, 0, &s, &err), 0);
	vset_release(&s);

	/* Multi-chunk values: a failed overwrite and a failed delete. */
	assert_int_equal(overwrite(st, "/f/big", big1, big1_len, &err), 0);
	store_fail_next_writes(st, 2);
	assert_int_equal(overwrite(st, "/f/big", big2, big2_len, &err),
	    QERR_IO);
	free(err);
	err = NULL;
	assert_int_equal(store_get(st, "/f/big", 6, 0, &s, &err), 1);
	rc = store_put(st, "/f/big", 6, &s.cc, CRASH_NODE, wall_clock_us(), 1,
	    NULL, 0, NULL, 0, NULL, NULL, &err);
	vset_release(&s);
	assert_int_equal(rc, QERR_IO);
	free(err);
	err = NULL;
	assert_value_is(st, "/f/big", big1, big1_len);

	/* All of it survives a reopen. */
	store_close(st);
	st = NULL;
	opt.create_if_missing = 0;
	if (store_open(db, &opt, &st, &err) < 0)
		fail_msg("reopen %s: %s", db, err);
	assert_value_is(st, "/f/a", "two", 3);
	assert_value_is(st, "/f/big", big1, big1_len);
	assert_int_equal(store_get(st, "/f/b", 4, 0, &s, &err), 0);
	vset_release(&s);
	store_close(st);

	free(big1);
	free(big2);
	free(db);
}

/*
 * This program, for the child's exec: the path it was started by, when
 * that names a file (not a name found on PATH), else /proc/self/exe.  Under
 * valgrind (make check-valgrind) /proc/self/exe is valgrind's tool, which
 * refuses to be run directly; the child then runs without valgrind, which
 * is fine: it is SIGKILLed.
 */
static void
self_exe_find(const char *argv0)
{
	static char path[PATH_MAX];

	if (strchr(argv0, '/') != NULL && realpath(argv0, path) != NULL)
		self_exe = path;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_sigkill_loses_no_acknowledged_write,
		    setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_open_failure_paths,
		    setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_injected_write_failure,
		    setup_tmpdir, teardown_tmpdir),
	};

	if (argc == 6 && strcmp(argv[1], "--crash-child") == 0)
		child_main(argv);
	self_exe_find(argv[0]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
