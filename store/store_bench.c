/*
 * store_bench.c - acknowledged puts per second, next to the disk's own
 * fsync rate measured in the same run.
 *
 * Every store_put returns only after its change is synced (store.h), so a
 * lone writer is capped near the disk's fsync rate; with concurrent writers
 * the store's writer should commit the puts queued meanwhile together, one
 * fsync per batch, and puts/s should rise well above that rate.  This program
 * shows whether it does.
 *
 * Measurements:
 *   fsync   write 4 KiB then fdatasync(), in a loop, appending to a file in
 *           the same directory as the store: syncs/s.
 *   put     W threads each call store_put with distinct keys (never an
 *           overwrite, so no siblings pile up) for S seconds: puts/s.
 *
 * The speed of a shared machine drifts by 2-3x within minutes, so the
 * configurations are interleaved (fsync, 1 writer, 16, 64, fsync, 1, ...)
 * and each is reported as the median over rounds, with the median of its
 * per-round ratio to the fsync rate of the same round.
 *
 * Everything the run creates (the store, the probe file and, by default,
 * the directory itself) is removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fdio.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define BENCH_NODE		"bench"
#define BENCH_PROBE_BLOCK	4096
#define BENCH_PROBE_WRAP	(256u << 20)	/* restart the probe file here */
#define BENCH_WRITERS_MAX	4096
#define BENCH_VALUE_MAX		STORE_DEFAULT_MAX_VALUE
#define BENCH_ROUNDS_MAX	1000

struct bench_opts {
	char		*dir;		/* NULL: a fresh mkdtemp directory */
	double		 seconds;
	unsigned	 rounds;
	size_t		*writers;
	size_t		 nwriters;
	size_t		*vsizes;
	size_t		 nvsizes;
};

/* One row of the report: the fsync probe or a (writers, value size) pair. */
struct bench_config {
	char		 name[64];
	int		 is_fsync;
	size_t		 writers;
	size_t		 value_size;
	double		*rate;		/* per round, ops/s */
	double		*ratio;		/* per round, rate / fsync rate */
};

/* What the writer threads of one measurement share. */
struct bench_run {
	struct store		*st;
	unsigned		 measurement;	/* makes every key of the run unique */
	const void		*value;
	size_t			 value_size;
	pthread_mutex_t		 lock;
	pthread_cond_t		 gate;		/* signalled when go is set */
	int			 go;
	atomic_int		 stop;
};

struct bench_writer {
	pthread_t		 tid;
	struct bench_run	*run;
	unsigned		 idx;
	uint64_t		 puts;
	int			 rc;
	char			*err;
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t
wall_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fill buf with incompressible bytes, so LevelDB's compression is no help. */
static void
fill_random(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t x = seed | 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n), n >= 1; v is left as it was. */
static double
median(const double *v, size_t n)
{
	double *s, m;

	s = xmemdup(v, n * sizeof *v);
	qsort(s, n, sizeof *s, compare_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

/*
 * Parse a comma-separated list of integers in [min, max] and append them to
 * *list (of *n entries, reallocated).
 */
static int
parse_size_list(const char *what, const char *arg, size_t min, size_t max,
    size_t **list, size_t *n, char **err)
{
	const char *p = arg;
	char *end;
	unsigned long long v;

	for (;;) {
		errno = 0;
		if (*p < '0' || *p > '9')
			return qerr_set(err, QERR_INVALID,
			    "%s: expected a number at \"%s\"", what, p);
		v = strtoull(p, &end, 10);
		if (errno != 0 || v < min || v > max)
			return qerr_set(err, QERR_INVALID,
			    "%s: %.*s is out of range %zu..%zu", what,
			    (int)(end - p), p, min, max);
		*list = xreallocarray(*list, *n + 1, sizeof **list);
		(*list)[(*n)++] = (size_t)v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return qerr_set(err, QERR_INVALID,
			    "%s: unexpected \"%s\"", what, end);
		p = end + 1;
	}
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: store-bench [options]\n"
"Acknowledged puts/s of store/ for 1 and many concurrent writers, next to\n"
"the disk's fsync rate (4 KiB append + fdatasync) measured in the same run.\n"
"Configurations are interleaved per round; each is reported as the median\n"
"over rounds and the median of its per-round ratio to the fsync rate.\n"
"\n"
"  -d, --dir DIR          run in DIR (default: a fresh directory under\n"
"                         $TMPDIR or /var/tmp, removed at the end)\n"
"  -s, --seconds S        seconds per measurement (default 3)\n"
"  -r, --rounds K         rounds of every measurement (default 3)\n"
"  -w, --writers LIST     concurrent writers, comma-separated\n"
"                         (default 1,16,64)\n"
"  -v, --value-size LIST  value bytes, comma-separated or repeated\n"
"                         (default 100), e.g. -v 100 -v 4096\n"
"  -h, --help             show this help\n");
}

/* Parse argv into o; 1 when --help was given, <0 on a bad option. */
static int
parse_options(int argc, char **argv, struct bench_opts *o, char **err)
{
	static const struct option longopts[] = {
		{ "dir",	required_argument,	NULL, 'd' },
		{ "seconds",	required_argument,	NULL, 's' },
		{ "rounds",	required_argument,	NULL, 'r' },
		{ "writers",	required_argument,	NULL, 'w' },
		{ "value-size",	required_argument,	NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	char *end;
	unsigned long ul;
	int c;

	while ((c = getopt_long(argc, argv, "d:s:r:w:v:h", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'd':
			free(o->dir);
			o->dir = xstrdup(optarg);
			break;
		case 's':
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    !(o->seconds > 0 && o->seconds <= 3600))
				return qerr_set(err, QERR_INVALID,
				    "--seconds: \"%s\" is not a number of "
				    "seconds in (0, 3600]", optarg);
			break;
		case 'r':
			errno = 0;
			ul = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    ul < 1 || ul > BENCH_ROUNDS_MAX)
				return qerr_set(err, QERR_INVALID,
				    "--rounds: \"%s\" is not in 1..%d", optarg,
				    BENCH_ROUNDS_MAX);
			o->rounds = (unsigned)ul;
			break;
		case 'w':
			free(o->writers);
			o->writers = NULL;
			o->nwriters = 0;
			if (parse_size_list("--writers", optarg, 1,
			    BENCH_WRITERS_MAX, &o->writers, &o->nwriters,
			    err) < 0)
				return QERR_INVALID;
			break;
		case 'v':
			if (parse_size_list("--value-size", optarg, 0,
			    BENCH_VALUE_MAX, &o->vsizes, &o->nvsizes, err) < 0)
				return QERR_INVALID;
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
	if (o->nwriters == 0) {
		o->writers = xcalloc(3, sizeof *o->writers);
		o->writers[0] = 1;
		o->writers[1] = 16;
		o->writers[2] = 64;
		o->nwriters = 3;
	}
	if (o->nvsizes == 0) {
		o->vsizes = xcalloc(1, sizeof *o->vsizes);
		o->vsizes[0] = 100;
		o->nvsizes = 1;
	}
	return 0;
}

/* Write all of buf at the file offset, retrying short writes. */
static int
write_all(int fd, const void *buf, size_t len, char **err)
{
	if (fd_write_all(fd, buf, len) < 0)
		return qerr_set(err, QERR_IO, "write: %s", strerror(errno));
	return 0;
}

/*
 * The disk's own sync rate: append 4 KiB and fdatasync, as LevelDB appends
 * to its log and syncs it, for `seconds`.  *rate gets syncs per second.
 */
static int
measure_fsync(const char *path, double seconds, double *rate, char **err)
{
	unsigned char block[BENCH_PROBE_BLOCK];
	uint64_t syncs = 0;
	size_t written = 0;
	double t0, t;
	int fd, rc = 0;

	fill_random(block, sizeof block, 0x5eed);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return qerr_set(err, QERR_IO, "%s: %s", path, strerror(errno));
	t0 = t = now_seconds();
	while (t - t0 < seconds) {
		if (written >= BENCH_PROBE_WRAP) {
			if (ftruncate(fd, 0) < 0 ||
			    lseek(fd, 0, SEEK_SET) < 0) {
				rc = qerr_set(err, QERR_IO, "%s: %s", path,
				    strerror(errno));
				goto out;
			}
			written = 0;
		}
		if ((rc = write_all(fd, block, sizeof block, err)) < 0) {
			qerr_wrap(err, rc, "%s", path);
			goto out;
		}
		written += sizeof block;
		if (fdatasync(fd) < 0) {
			rc = qerr_set(err, QERR_IO, "%s: fdatasync: %s", path,
			    strerror(errno));
			goto out;
		}
		syncs++;
		t = now_seconds();
	}
	*rate = syncs / (t - t0);
out:
	close(fd);
	if (unlink(path) < 0 && rc == 0)
		rc = qerr_set(err, QERR_IO, "%s: %s", path, strerror(errno));
	return rc;
}

/* One writer thread: distinct keys until told to stop or a put fails. */
static void *
writer_main(void *arg)
{
	struct bench_writer *w = arg;
	struct bench_run *run = w->run;
	char key[128];
	int len;

	pthread_mutex_lock(&run->lock);
	while (!run->go)
		pthread_cond_wait(&run->gate, &run->lock);
	pthread_mutex_unlock(&run->lock);
	while (!atomic_load_explicit(&run->stop, memory_order_relaxed)) {
		len = snprintf(key, sizeof key, "/bench/m%u/t%u/k%" PRIu64,
		    run->measurement, w->idx, w->puts);
		w->rc = store_put(run->st, key, (size_t)len, NULL, BENCH_NODE,
		    wall_clock_us(), 0, NULL, 0, run->value, run->value_size,
		    NULL, NULL, &w->err);
		if (w->rc < 0) {
			qerr_wrap(&w->err, w->rc, "store_put %s", key);
			atomic_store(&run->stop, 1);
			break;
		}
		w->puts++;
	}
	return NULL;
}

/*
 * W concurrent writers of value_size-byte values for `seconds`: *rate gets
 * acknowledged puts per second.  The clock runs from the moment every thread
 * is released until the last in-flight put has returned.
 */
static int
measure_puts(struct store *st, unsigned measurement, size_t nwriters,
    const void *value, size_t value_size, double seconds, double *rate,
    char **err)
{
	struct bench_run run;
	struct bench_writer *w;
	struct timespec slice = { 0, 20 * 1000 * 1000 };
	uint64_t total = 0;
	size_t i, started = 0;
	double t0, t1;
	int rc = 0, e;

	memset(&run, 0, sizeof run);
	run.st = st;
	run.measurement = measurement;
	run.value = value;
	run.value_size = value_size;
	atomic_init(&run.stop, 0);
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.gate, NULL);

	w = xcalloc(nwriters, sizeof *w);
	for (i = 0; i < nwriters; i++) {
		w[i].run = &run;
		w[i].idx = (unsigned)i;
		if ((e = pthread_create(&w[i].tid, NULL, writer_main,
		    &w[i])) != 0) {
			rc = qerr_set(err, QERR_IO, "pthread_create: %s",
			    strerror(e));
			break;
		}
		started++;
	}
	if (rc < 0)
		atomic_store(&run.stop, 1);	/* release them to quit */

	pthread_mutex_lock(&run.lock);
	run.go = 1;
	pthread_cond_broadcast(&run.gate);
	pthread_mutex_unlock(&run.lock);
	t0 = now_seconds();
	while (now_seconds() - t0 < seconds &&
	    !atomic_load(&run.stop))
		nanosleep(&slice, NULL);
	atomic_store(&run.stop, 1);
	for (i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	t1 = now_seconds();
	if (rc < 0)
		goto out;

	for (i = 0; i < nwriters; i++) {
		total += w[i].puts;
		if (w[i].rc < 0 && rc == 0) {
			rc = w[i].rc;
			free(*err);
			*err = w[i].err;
			w[i].err = NULL;
		}
	}
	if (rc == 0)
		*rate = total / (t1 - t0);
out:
	for (i = 0; i < nwriters; i++)
		free(w[i].err);
	free(w);
	pthread_cond_destroy(&run.gate);
	pthread_mutex_destroy(&run.lock);
	return rc;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT) {
		fprintf(stderr, "store-bench: remove %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove path and everything under it. */
static int
remove_tree(const char *path, char **err)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return qerr_set(err, QERR_IO, "cannot remove %s", path);
	return 0;
}

/*
 * The directory to run in: opt_dir (created when missing) or a fresh
 * mkdtemp directory under $TMPDIR or /var/tmp.  *created is 1 when this
 * run made the directory and so removes it.
 */
static int
make_run_dir(const char *opt_dir, char **out, int *created, char **err)
{
	const char *base;
	char *tmpl;

	*created = 0;
	if (opt_dir != NULL) {
		if (mkdir(opt_dir, 0700) == 0)
			*created = 1;
		else if (errno != EEXIST)
			return qerr_set(err, QERR_IO, "mkdir %s: %s", opt_dir,
			    strerror(errno));
		*out = xstrdup(opt_dir);
		return 0;
	}
	base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = "/var/tmp";
	tmpl = xmalloc(strlen(base) + sizeof "/store-bench.XXXXXX");
	sprintf(tmpl, "%s/store-bench.XXXXXX", base);
	if (mkdtemp(tmpl) == NULL) {
		qerr_set(err, QERR_IO, "mkdtemp %s: %s", tmpl,
		    strerror(errno));
		free(tmpl);
		return QERR_IO;
	}
	*created = 1;
	*out = tmpl;
	return 0;
}

static void
print_report(const struct bench_config *cfg, size_t ncfg, unsigned rounds)
{
	char head[32];
	size_t i;
	unsigned r;

	printf("\n%-22s %11s %15s", "config", "median/s", "ratio-to-fsync");
	for (r = 0; r < rounds; r++) {
		snprintf(head, sizeof head, "round %u", r + 1);
		printf(" %12s", head);
	}
	printf("\n");
	for (i = 0; i < ncfg; i++) {
		printf("%-22s %11.1f %15.2f", cfg[i].name,
		    median(cfg[i].rate, rounds),
		    median(cfg[i].ratio, rounds));
		for (r = 0; r < rounds; r++)
			printf(" %12.1f", cfg[i].rate[r]);
		printf("\n");
	}
	printf("\nper-round ratio to that round's fsync rate:\n");
	for (i = 0; i < ncfg; i++) {
		if (cfg[i].is_fsync)
			continue;
		printf("%-22s %11s %15s", cfg[i].name, "", "");
		for (r = 0; r < rounds; r++)
			printf(" %12.2f", cfg[i].ratio[r]);
		printf("\n");
	}
}

/* Every measurement, round by round; then the report. */
static int
run_bench(const struct bench_opts *o, const char *dir, char **err)
{
	struct store_options sopt;
	struct store *st = NULL;
	struct bench_config *cfg;
	char *store_dir = NULL, *probe = NULL;
	void *value = NULL;
	size_t i, j, ncfg, maxv = 0;
	unsigned r, measurement = 0;
	int rc;

	ncfg = 1 + o->nwriters * o->nvsizes;
	cfg = xcalloc(ncfg, sizeof *cfg);
	cfg[0].is_fsync = 1;
	snprintf(cfg[0].name, sizeof cfg[0].name, "fsync 4KiB");
	for (i = 0; i < o->nvsizes; i++) {
		if (o->vsizes[i] > maxv)
			maxv = o->vsizes[i];
		for (j = 0; j < o->nwriters; j++) {
			struct bench_config *c = &cfg[1 + i * o->nwriters + j];

			c->writers = o->writers[j];
			c->value_size = o->vsizes[i];
			snprintf(c->name, sizeof c->name, "put w=%zu v=%zuB",
			    c->writers, c->value_size);
		}
	}
	for (i = 0; i < ncfg; i++) {
		cfg[i].rate = xcalloc(o->rounds, sizeof *cfg[i].rate);
		cfg[i].ratio = xcalloc(o->rounds, sizeof *cfg[i].ratio);
	}
	value = xmalloc(maxv > 0 ? maxv : 1);
	fill_random(value, maxv, 0xbe7c4);

	store_dir = xmalloc(strlen(dir) + sizeof "/bench-store");
	sprintf(store_dir, "%s/bench-store", dir);
	probe = xmalloc(strlen(dir) + sizeof "/fsync-probe");
	sprintf(probe, "%s/fsync-probe", dir);
	if (access(store_dir, F_OK) == 0) {
		free(store_dir);
		store_dir = NULL;	/* not ours: do not remove it */
		rc = qerr_set(err, QERR_INVALID, "%s/bench-store already "
		    "exists: choose another --dir", dir);
		goto out;
	}
	memset(&sopt, 0, sizeof sopt);
	sopt.create_if_missing = 1;
	if ((rc = store_open(store_dir, &sopt, &st, err)) < 0) {
		qerr_wrap(err, rc, "store_open %s", store_dir);
		goto out;
	}

	printf("store-bench: dir %s, %u round(s) of %.3g s per measurement\n",
	    dir, o->rounds, o->seconds);
	for (r = 0; r < o->rounds; r++) {
		for (i = 0; i < ncfg; i++) {
			struct bench_config *c = &cfg[i];

			if (c->is_fsync) {
				rc = measure_fsync(probe, o->seconds,
				    &c->rate[r], err);
				if (rc < 0)
					goto out;
			} else {
				rc = measure_puts(st, measurement++,
				    c->writers, value, c->value_size,
				    o->seconds, &c->rate[r], err);
				if (rc < 0)
					goto out;
			}
			c->ratio[r] = c->rate[r] / cfg[0].rate[r];
			printf("round %u/%u  %-22s %11.1f/s  ratio %6.2f\n",
			    r + 1, o->rounds, c->name, c->rate[r],
			    c->ratio[r]);
			fflush(stdout);
		}
	}
	print_report(cfg, ncfg, o->rounds);
	rc = 0;
out:
	if (st != NULL)
		store_close(st);
	if (store_dir != NULL && remove_tree(store_dir, rc < 0 ? NULL :
	    err) < 0 && rc == 0)
		rc = QERR_IO;
	free(store_dir);
	free(probe);
	free(value);
	for (i = 0; i < ncfg; i++) {
		free(cfg[i].rate);
		free(cfg[i].ratio);
	}
	free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct bench_opts o;
	char *err = NULL, *dir = NULL;
	int rc, created = 0, status = 1;

	memset(&o, 0, sizeof o);
	o.seconds = 3;
	o.rounds = 3;
	rc = parse_options(argc, argv, &o, &err);
	if (rc == 1) {
		usage(stdout);
		status = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	if ((rc = make_run_dir(o.dir, &dir, &created, &err)) < 0)
		goto out;
	rc = run_bench(&o, dir, &err);
	if (created && rmdir(dir) < 0 && rc == 0)
		rc = qerr_set(&err, QERR_IO, "rmdir %s: %s", dir,
		    strerror(errno));
	if (rc == 0)
		status = 0;
out:
	if (status != 0)
		fprintf(stderr, "store-bench: %s\n",
		    err != NULL ? err : "failed");
	free(err);
	free(dir);
	free(o.dir);
	free(o.writers);
	free(o.vsizes);
	return status;
}
