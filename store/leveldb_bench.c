/*
 * leveldb_bench.c - the synced writes per second LevelDB itself takes on
 * this machine, on the store's own settings (store_leveldb_options) and
 * with nothing of the store, the network or the cluster around it: the
 * ceiling under any replica write of quorumd.
 *
 * T threads each write fresh keys for S seconds, every write its own
 * synced WriteBatch (LevelDB joins concurrent ones into one log write and
 * one sync: its own group commit), in one of two shapes:
 *   put      one row per write and no read: the least a durable write of
 *            a key can cost
 *   replica  the least a replica write of the store costs: a read of the
 *            key's record row (absent: the keys are fresh), then the record
 *            row, value inline, and the key's hash-index row (store.h)
 * Values are fresh random bytes every time, so compression gains nothing.
 *
 * Prints one line of five figures: writes/s, the p50, p99 and p99.9 of a
 * write's latency in microseconds, and errors (always 0: a failed write
 * stops the run with a message and exit status 1).  scripts/bench-kv.sh
 * runs three at once beside its other systems (docs/bench-kv.md).
 *
 * The database in --dir is kept, so that rounds fill it as a node's fills;
 * every key holds the process id and start time, so no run overwrites
 * another's.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <leveldb/c.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/key.h"
#include "store/kbuf.h"
#include "store/store_int.h"

#define LB_THREADS_MAX	4096
#define LB_VALUE_MAX	(64u << 20)

enum lb_mode { LB_PUT, LB_REPLICA };

struct lb_opts {
	const char	*dir;
	unsigned	 threads;
	double		 seconds;
	size_t		 value_size;
	enum lb_mode	 mode;
};

/* What the threads share. */
struct lb_run {
	const struct lb_opts	*o;
	leveldb_t		*db;
	leveldb_writeoptions_t	*wsync;
	leveldb_readoptions_t	*rd;
	char			 tag[48];	/* names this run's keys */
	pthread_barrier_t	 start;
	atomic_int		 stop;
	pthread_mutex_t		 lock;
	char			*err;		/* the first failure */
};

struct lb_thread {
	pthread_t	 tid;
	struct lb_run	*run;
	unsigned	 idx;
	uint64_t	 x;		/* xorshift state for the values */
	uint32_t	*lat_us;	/* one per write */
	size_t		 n, cap;
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
fill_random(struct lb_thread *t, unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		t->x ^= t->x << 13;
		t->x ^= t->x >> 7;
		t->x ^= t->x << 17;
		p[i] = (unsigned char)(t->x >> 24);
	}
}

static void
fail(struct lb_run *run, const char *what, char *lerr)
{
	char msg[512];

	snprintf(msg, sizeof msg, "%s: %s", what, lerr);
	pthread_mutex_lock(&run->lock);
	if (run->err == NULL)
		run->err = xstrdup(msg);
	pthread_mutex_unlock(&run->lock);
	leveldb_free(lerr);
	atomic_store(&run->stop, 1);
}

/* One write of the run's shape, synced; 0 or -1 after fail(). */
static int
write_one(struct lb_thread *t, uint64_t n, leveldb_writebatch_t *wb,
    struct kbuf *rk, struct kbuf *hk, const unsigned char *value)
{
	struct lb_run *run = t->run;
	char name[24], path[96], *lerr = NULL, *old;
	size_t plen, nlen, vlen;

	plen = (size_t)snprintf(path, sizeof path, "/bench/%s/t%u", run->tag,
	    t->idx);
	nlen = (size_t)snprintf(name, sizeof name, "%" PRIu64, n);
	rk->len = 0;			/* 'k' parent '\0' name, as store.h */
	kbuf_put_byte(rk, 'k');
	kbuf_put(rk, path, plen);
	kbuf_put_byte(rk, '\0');
	kbuf_put(rk, name, nlen);
	leveldb_writebatch_clear(wb);
	leveldb_writebatch_put(wb, rk->p, rk->len, (const char *)value,
	    run->o->value_size);
	if (run->o->mode == LB_REPLICA) {
		old = leveldb_get(run->db, run->rd, rk->p, rk->len, &vlen,
		    &lerr);
		leveldb_free(old);
		if (lerr != NULL) {
			fail(run, "get", lerr);
			return -1;
		}
		path[plen] = '/';	/* the whole key, for its hash */
		memcpy(path + plen + 1, name, nlen);
		hk->len = 0;		/* 'h' be64 hash key */
		kbuf_put_byte(hk, 'h');
		kbuf_put_be64(hk, key_hash(path, plen + 1 + nlen));
		kbuf_put(hk, path, plen + 1 + nlen);
		leveldb_writebatch_put(wb, hk->p, hk->len, "", 0);
	}
	leveldb_write(run->db, run->wsync, wb, &lerr);
	if (lerr != NULL) {
		fail(run, "write", lerr);
		return -1;
	}
	return 0;
}

static void *
thread_main(void *arg)
{
	struct lb_thread *t = arg;
	struct lb_run *run = t->run;
	leveldb_writebatch_t *wb = leveldb_writebatch_create();
	struct kbuf rk = { 0 }, hk = { 0 };
	unsigned char *value = xmalloc(run->o->value_size + 1);
	uint64_t n = 0;
	double t0, t1;

	pthread_barrier_wait(&run->start);
	while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
		fill_random(t, value, run->o->value_size);
		t0 = now_seconds();
		if (write_one(t, n++, wb, &rk, &hk, value) < 0)
			break;
		t1 = now_seconds();
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 4096;
			t->lat_us = xreallocarray(t->lat_us, t->cap,
			    sizeof *t->lat_us);
		}
		t->lat_us[t->n++] = (uint32_t)((t1 - t0) * 1e6 + 0.5);
	}
	leveldb_writebatch_destroy(wb);
	free(rk.p);
	free(hk.p);
	free(value);
	return NULL;
}

static int
compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of the sorted v[0..n), n >= 1. */
static double
quantile(const uint32_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);

	return v[i < n ? i : n - 1];
}

/* Print the five figures of threads t[0..n) over elapsed seconds. */
static void
report(struct lb_thread *t, unsigned n, double elapsed)
{
	uint32_t *all;
	size_t total = 0, k = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		total += t[i].n;
	if (total == 0) {
		printf("0 nan nan nan 0\n");
		return;
	}
	all = xreallocarray(NULL, total, sizeof *all);
	for (i = 0; i < n; i++) {
		memcpy(all + k, t[i].lat_us, t[i].n * sizeof *all);
		k += t[i].n;
	}
	qsort(all, total, sizeof *all, compare_u32);
	printf("%.1f %.0f %.0f %.0f 0\n", total / elapsed,
	    quantile(all, total, 0.50), quantile(all, total, 0.99),
	    quantile(all, total, 0.999));
	free(all);
}

static int
run_bench(const struct lb_opts *o, char **err)
{
	struct lb_run run;
	struct lb_thread *t;
	leveldb_options_t *opts;
	leveldb_cache_t *cache;
	leveldb_filterpolicy_t *filter;
	struct timespec slice = { 0, 20 * 1000 * 1000 };
	char *lerr = NULL;
	double t0, t1;
	unsigned i, started = 0;
	int rc = 0, e;

	memset(&run, 0, sizeof run);
	run.o = o;
	snprintf(run.tag, sizeof run.tag, "%ld-%.0f", (long)getpid(),
	    now_seconds() * 1e6);
	opts = store_leveldb_options(8u << 20, 1, &cache, &filter);
	run.db = leveldb_open(opts, o->dir, &lerr);
	if (run.db == NULL) {
		rc = qerr_set(err, QERR_IO, "open %s: %s", o->dir, lerr);
		leveldb_free(lerr);
		goto out_opts;
	}
	run.wsync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(run.wsync, 1);
	run.rd = leveldb_readoptions_create();
	atomic_init(&run.stop, 0);
	pthread_mutex_init(&run.lock, NULL);
	pthread_barrier_init(&run.start, NULL, o->threads + 1);

	t = xcalloc(o->threads, sizeof *t);
	for (i = 0; i < o->threads; i++) {
		t[i].run = &run;
		t[i].idx = i;
		t[i].x = 0x9e3779b97f4a7c15ull * (i + 1) ^ (uint64_t)getpid();
		if ((e = pthread_create(&t[i].tid, NULL, thread_main,
		    &t[i])) != 0) {
			/* The barrier counts every thread: none may be
			 * missing, so give up before releasing any. */
			fprintf(stderr, "leveldb-bench: pthread_create: %s\n",
			    strerror(e));
			exit(1);
		}
		started++;
	}
	pthread_barrier_wait(&run.start);
	t0 = now_seconds();
	while (now_seconds() - t0 < o->seconds && !atomic_load(&run.stop))
		nanosleep(&slice, NULL);
	atomic_store(&run.stop, 1);
	for (i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	t1 = now_seconds();
	if (run.err != NULL) {
		rc = qerr_set(err, QERR_IO, "%s", run.err);
		free(run.err);
	} else
		report(t, o->threads, t1 - t0);
	for (i = 0; i < o->threads; i++)
		free(t[i].lat_us);
	free(t);
	pthread_barrier_destroy(&run.start);
	pthread_mutex_destroy(&run.lock);
	leveldb_readoptions_destroy(run.rd);
	leveldb_writeoptions_destroy(run.wsync);
	leveldb_close(run.db);
out_opts:
	leveldb_options_destroy(opts);
	leveldb_cache_destroy(cache);
	leveldb_filterpolicy_destroy(filter);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: leveldb-bench --dir DIR [options]\n"
"Synced writes/s of LevelDB alone on the store's settings, from concurrent\n"
"threads writing fresh keys; prints writes/s, p50, p99 and p99.9 latency\n"
"(microseconds) and errors on one line.\n"
"\n"
"  -d, --dir DIR          the database (created if missing, kept)\n"
"  -m, --mode MODE        put: one row per write, no read;\n"
"                         replica: read the key, then write its record\n"
"                         and hash-index rows, as a store's replica write\n"
"                         does at least (default replica)\n"
"  -t, --threads T        concurrent writers (default 64)\n"
"  -s, --seconds S        how long to write (default 3)\n"
"  -v, --value-size B     value bytes (default 100)\n"
"  -h, --help             show this help\n");
}

static int
parse_number(const char *opt, const char *arg, double min, double max,
    double *out, char **err)
{
	char *end;

	errno = 0;
	*out = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(*out >= min &&
	    *out <= max))
		return qerr_set(err, QERR_INVALID, "%s: \"%s\" is not a "
		    "number in %g..%g", opt, arg, min, max);
	return 0;
}

/* Parse argv into o; 1 when --help was given, <0 on a bad option. */
static int
parse_options(int argc, char **argv, struct lb_opts *o, char **err)
{
	static const struct option longopts[] = {
		{ "dir",	required_argument,	NULL, 'd' },
		{ "mode",	required_argument,	NULL, 'm' },
		{ "threads",	required_argument,	NULL, 't' },
		{ "seconds",	required_argument,	NULL, 's' },
		{ "value-size",	required_argument,	NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	double d;
	int c;

	while ((c = getopt_long(argc, argv, "d:m:t:s:v:h", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "put") == 0)
				o->mode = LB_PUT;
			else if (strcmp(optarg, "replica") == 0)
				o->mode = LB_REPLICA;
			else
				return qerr_set(err, QERR_INVALID, "--mode: "
				    "\"%s\" is not put or replica", optarg);
			break;
		case 't':
			if (parse_number("--threads", optarg, 1,
			    LB_THREADS_MAX, &d, err) < 0)
				return QERR_INVALID;
			o->threads = (unsigned)d;
			break;
		case 's':
			if (parse_number("--seconds", optarg, 0.001, 3600, &d,
			    err) < 0)
				return QERR_INVALID;
			o->seconds = d;
			break;
		case 'v':
			if (parse_number("--value-size", optarg, 0,
			    LB_VALUE_MAX, &d, err) < 0)
				return QERR_INVALID;
			o->value_size = (size_t)d;
			break;
		case 'h':
			return 1;
		default:
			return qerr_set(err, QERR_INVALID,
			    "bad option (see --help)");
		}
	}
	if (optind != argc)
		return qerr_set(err, QERR_INVALID,
		    "unexpected argument \"%s\" (see --help)", argv[optind]);
	if (o->dir == NULL)
		return qerr_set(err, QERR_INVALID, "--dir is required "
		    "(see --help)");
	return 0;
}

int
main(int argc, char **argv)
{
	struct lb_opts o = { NULL, 64, 3, 100, LB_REPLICA };
	char *err = NULL;
	int rc;

	rc = parse_options(argc, argv, &o, &err);
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc == 0)
		rc = run_bench(&o, &err);
	if (rc < 0) {
		fprintf(stderr, "leveldb-bench: %s\n", err != NULL ? err :
		    "failed");
		free(err);
		return 1;
	}
	return 0;
}
