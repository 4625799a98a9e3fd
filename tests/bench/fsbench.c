/*
 * fsbench.c - one small-file and large-file workload on any directory, so
 * that a quorumfs mount, the local disk and another distributed filesystem
 * can be measured with exactly the same calls (scripts/bench-fs.sh runs it
 * on all three, interleaved, and prints the ratios; docs/bench-fs.md).
 *
 * In a fresh directory DIR/fsbench.<pid>, W writer threads share F files of
 * S bytes (file i belongs to writer i mod W and lives in that writer's
 * directory tW/, or in one directory for all with --shared-dir) and run,
 * phase after phase, all writers released at once by a barrier, each phase
 * timed from the first writer's start to the last writer's end:
 *
 *   create   open(O_CREAT|O_EXCL|O_WRONLY), write S bytes, fsync if --fsync,
 *            close
 *   stat     stat: a regular file of S bytes
 *   read     open, read to end of file, close: exactly S bytes, and the
 *            bytes that were written
 *   rename   rename fN to gN, in the same directory
 *   delete   unlink gN
 *
 * then one thread writes one file of --big-mib MiB in --block-kib blocks,
 * fsyncs and closes it (timed from open to close), and reads it back
 * (timed from open to close) and checks every byte.
 *
 * Caches: before stat, read and the large read the program drops what it
 * can, untimed: sync(), then "3" into /proc/sys/vm/drop_caches (page cache,
 * dentries and inodes of every filesystem, FUSE mounts included: their
 * kernel-side caches go, the FUSE daemon is sent FORGETs), and for the large
 * file posix_fadvise(POSIX_FADV_DONTNEED) too.  Caches inside a FUSE daemon
 * (GlusterFS's quick-read and md-cache, for example) are not reachable from
 * here and stay.  Without root the drop fails; the run goes on and says so
 * (dropped=0 on the phase's line).  --no-drop-caches skips it.
 *
 * Every call is checked.  A failure ends the run with a message naming the
 * call, the path and the error, and exit status 1, before that phase's
 * result is printed: a phase's line is printed only if every operation of
 * it succeeded.  The files are left behind then, for a look.
 *
 * Output: one line per phase on stdout, for scripts,
 *
 *   RESULT phase=create ops=4000 seconds=1.234567 rate=3241.2 unit=ops/s
 *       p50_us=... p99_us=... writers=4 files=4000 size=4096 fsync=1
 *       dropped=0
 *   RESULT phase=bigwrite ops=64 seconds=... rate=... unit=MiB/s
 *       bytes=67108864 block=1048576 fsync=1 dropped=0
 *
 * (one line each; p50_us and p99_us are per-operation latencies, for the
 * small-file phases) and progress on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fdio.h"
#include "lib/xalloc.h"

#define FSB_EXIT_FAILED		1
#define FSB_EXIT_USAGE		2

#define FSB_WRITERS_MAX		1024
#define FSB_FILES_MAX		10000000UL
#define FSB_SIZE_MAX		(64UL << 20)
#define FSB_BIG_MIB_MAX		16384UL
#define FSB_BLOCK_KIB_MAX	(64UL << 10)
#define FSB_DROP_CACHES		"/proc/sys/vm/drop_caches"

enum fsb_phase {
	FSB_CREATE,
	FSB_STAT,
	FSB_READ,
	FSB_RENAME,
	FSB_DELETE,
};

static const char *fsb_phase_names[] = {
	"create", "stat", "read", "rename", "delete",
};

struct fsb_opts {
	const char	*dir;
	unsigned	 writers;
	unsigned long	 files;
	size_t		 size;
	int		 fsync;
	int		 shared_dir;
	unsigned long	 big_mib;
	size_t		 block;
	int		 drop_caches;
};

/* What the writers of one phase share. */
struct fsb_run {
	const struct fsb_opts	*opts;
	char			 root[PATH_MAX / 2];	/* DIR/fsbench.<pid> */
	enum fsb_phase		 phase;
	pthread_barrier_t	 start;
	atomic_int		 failed;	/* some writer failed: all stop */
};

struct fsb_writer {
	pthread_t	 tid;
	struct fsb_run	*run;
	unsigned	 idx;
	uint64_t	*lat_ns;	/* one per file of this writer */
	size_t		 nlat;
	uint64_t	 start_ns, end_ns;	/* its part of the phase */
	unsigned char	*buf;		/* size + 1 bytes: a read past S shows */
	unsigned char	*want;		/* the bytes file i should hold */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Report a failed call and mark the run failed; errno is the call's. */
static void
fail(struct fsb_run *run, const char *call, const char *path)
{
	int e = errno;

	fprintf(stderr, "fsbench: %s %s: %s\n", call, path, strerror(e));
	if (run != NULL)
		atomic_store(&run->failed, 1);
}

/* Report a wrong result (no errno) and mark the run failed. */
static void
failx(struct fsb_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
failx(struct fsb_run *run, const char *fmt, ...)
{
	va_list ap;

	fputs("fsbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (run != NULL)
		atomic_store(&run->failed, 1);
}

/*
 * The bytes file `seed` holds: 64-bit words of a xorshift sequence seeded
 * from the file's number, so that a file read back with another file's
 * contents, or with stale or zeroed blocks, does not compare equal.
 */
static void
fill_pattern(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = len - i < sizeof x ? len - i : sizeof x;
		memcpy(p + i, &x, n);
	}
}

/*
 * Close *fd and set it to -1; a failure (EINTR aside: Linux has closed the
 * fd anyway) is reported and marks the run failed.  0 or -1.
 */
static int
close_file(struct fsb_run *run, int *fd, const char *path)
{
	int rc = close(*fd);

	*fd = -1;
	if (rc == -1 && errno != EINTR) {
		fail(run, "close", path);
		return -1;
	}
	return 0;
}

/* The path of file i, before (g = 0) or after (g = 1) the rename. */
static void
file_path(const struct fsb_run *run, unsigned long i, int g, char *path,
    size_t len)
{
	const struct fsb_opts *o = run->opts;

	if (o->shared_dir)
		snprintf(path, len, "%s/%c%07lu", run->root, g ? 'g' : 'f', i);
	else
		snprintf(path, len, "%s/t%lu/%c%07lu", run->root,
		    i % o->writers, g ? 'g' : 'f', i);
}

/* One operation of the current phase on file i; 0, or -1 (reported). */
static int
file_op(struct fsb_writer *w, unsigned long i)
{
	struct fsb_run *run = w->run;
	const struct fsb_opts *o = run->opts;
	char path[PATH_MAX], to[PATH_MAX];
	struct stat st;
	ssize_t got;
	int fd;

	file_path(run, i, run->phase == FSB_DELETE, path, sizeof path);
	switch (run->phase) {
	case FSB_CREATE:
		fill_pattern(w->want, o->size, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd == -1) {
			fail(run, "open(O_CREAT|O_EXCL)", path);
			return -1;
		}
		if (fd_write_all(fd, w->want, o->size) == -1) {
			fail(run, "write", path);
			close(fd);
			return -1;
		}
		if (o->fsync && fsync(fd) == -1) {
			fail(run, "fsync", path);
			close(fd);
			return -1;
		}
		if (close_file(run, &fd, path) == -1)
			return -1;
		return 0;
	case FSB_STAT:
		if (stat(path, &st) == -1) {
			fail(run, "stat", path);
			return -1;
		}
		if (!S_ISREG(st.st_mode) || (size_t)st.st_size != o->size) {
			failx(run, "stat %s: mode %o, size %jd; wanted a regular "
			    "file of %zu bytes", path, (unsigned)st.st_mode,
			    (intmax_t)st.st_size, o->size);
			return -1;
		}
		return 0;
	case FSB_READ:
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			fail(run, "open(O_RDONLY)", path);
			return -1;
		}
		/* A byte more than expected: a longer file reads long. */
		got = fd_read_upto(fd, w->buf, o->size + 1);
		if (got < 0) {
			fail(run, "read", path);
			close(fd);
			return -1;
		}
		if (close_file(run, &fd, path) == -1)
			return -1;
		fill_pattern(w->want, o->size, i);
		if ((size_t)got != o->size ||
		    memcmp(w->buf, w->want, o->size) != 0) {
			failx(run, "read %s: %zd bytes%s; wanted the %zu bytes "
			    "written", path, got, (size_t)got == o->size ?
			    ", not those written" : "", o->size);
			return -1;
		}
		return 0;
	case FSB_RENAME:
		file_path(run, i, 1, to, sizeof to);
		if (rename(path, to) == -1) {
			fail(run, "rename", path);
			return -1;
		}
		return 0;
	case FSB_DELETE:
		if (unlink(path) == -1) {
			fail(run, "unlink", path);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* A writer: wait for the start, then its files of the phase, in order. */
static void *
writer_main(void *arg)
{
	struct fsb_writer *w = arg;
	struct fsb_run *run = w->run;
	unsigned long i;
	uint64_t t0;
	int rc;

	rc = pthread_barrier_wait(&run->start);
	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
		errno = rc;
		fail(run, "pthread_barrier_wait", "");
		return NULL;
	}
	w->nlat = 0;
	w->start_ns = now_ns();
	for (i = w->idx; i < run->opts->files; i += run->opts->writers) {
		if (atomic_load(&run->failed))
			break;
		t0 = now_ns();
		if (file_op(w, i) == -1)
			break;
		w->lat_ns[w->nlat++] = now_ns() - t0;
	}
	w->end_ns = now_ns();
	return NULL;
}

/*
 * Drop what caches can be dropped (see the top of the file), untimed: 1 if
 * dropped, 0 if not (told once, on stderr), -1 if a sync failed.
 */
static int
drop_caches(const struct fsb_opts *o)
{
	static int told;
	int fd;

	if (!o->drop_caches)
		return 0;
	sync();
	fd = open(FSB_DROP_CACHES, O_WRONLY | O_CLOEXEC);
	if (fd == -1 || fd_write_all(fd, (const unsigned char *)"3", 1) == -1) {
		if (!told)
			fprintf(stderr, "fsbench: cannot drop caches (%s: %s): "
			    "phases run with warm caches\n", FSB_DROP_CACHES,
			    strerror(errno));
		told = 1;
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (close_file(NULL, &fd, FSB_DROP_CACHES) == -1)
		return -1;
	return 1;
}

static int
compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of sorted v[0..n), n >= 1, in microseconds. */
static double
quantile_us(const uint64_t *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)(n - 1) + 0.5);

	return (double)v[k] / 1e3;
}

/*
 * One small-file phase with every writer; prints its RESULT line.  0, or -1
 * if any operation failed (the failure has been reported).
 */
static int
run_phase(struct fsb_run *run, struct fsb_writer *ws, enum fsb_phase phase,
    int dropped)
{
	const struct fsb_opts *o = run->opts;
	uint64_t t0, t1, *all;
	size_t n = 0, k;
	unsigned i;
	double secs;
	int rc;

	run->phase = phase;
	rc = pthread_barrier_init(&run->start, NULL, o->writers + 1);
	if (rc != 0) {
		errno = rc;
		fail(run, "pthread_barrier_init", "");
		return -1;
	}
	for (i = 0; i < o->writers; i++) {
		rc = pthread_create(&ws[i].tid, NULL, writer_main, &ws[i]);
		if (rc != 0) {
			/* The barrier would never open: nothing can go on. */
			errno = rc;
			fail(run, "pthread_create", "");
			exit(FSB_EXIT_FAILED);
		}
	}
	rc = pthread_barrier_wait(&run->start);
	for (i = 0; i < o->writers; i++)
		pthread_join(ws[i].tid, NULL);
	pthread_barrier_destroy(&run->start);
	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
		errno = rc;
		fail(run, "pthread_barrier_wait", "");
	}
	if (atomic_load(&run->failed))
		return -1;

	/*
	 * The phase lasts from the first writer's start to the last one's
	 * end, as the writers saw them: this thread may well be scheduled out
	 * between the barrier and a clock read of its own.
	 */
	t0 = ws[0].start_ns;
	t1 = ws[0].end_ns;
	for (i = 0; i < o->writers; i++) {
		n += ws[i].nlat;
		if (ws[i].start_ns < t0)
			t0 = ws[i].start_ns;
		if (ws[i].end_ns > t1)
			t1 = ws[i].end_ns;
	}
	if (n != o->files) {
		failx(run, "%s: %zu operations of %lu done",
		    fsb_phase_names[phase], n, o->files);
		return -1;
	}
	all = xreallocarray(NULL, n, sizeof *all);
	for (i = 0, k = 0; i < o->writers; i++) {
		memcpy(all + k, ws[i].lat_ns, ws[i].nlat * sizeof *all);
		k += ws[i].nlat;
	}
	qsort(all, n, sizeof *all, compare_u64);
	secs = (double)(t1 - t0) / 1e9;
	printf("RESULT phase=%s ops=%zu seconds=%.6f rate=%.1f unit=ops/s "
	    "p50_us=%.0f p99_us=%.0f writers=%u files=%lu size=%zu fsync=%d "
	    "dropped=%d\n", fsb_phase_names[phase], n, secs, (double)n / secs,
	    quantile_us(all, n, 0.50), quantile_us(all, n, 0.99), o->writers,
	    o->files, o->size, o->fsync, dropped);
	fflush(stdout);
	fprintf(stderr, "fsbench: %-8s %8.0f ops/s (%.2f s)\n",
	    fsb_phase_names[phase], (double)n / secs, secs);
	free(all);
	return 0;
}

/* The RESULT line of a large-file phase that took ns nanoseconds. */
static void
print_big(const struct fsb_opts *o, const char *phase, uint64_t ns,
    int fsynced, int dropped)
{
	double secs = (double)ns / 1e9, rate = (double)o->big_mib / secs;

	printf("RESULT phase=%s ops=%lu seconds=%.6f rate=%.1f unit=MiB/s "
	    "bytes=%lu block=%zu fsync=%d dropped=%d\n", phase, o->big_mib,
	    secs, rate, o->big_mib << 20, o->block, fsynced, dropped);
	fflush(stdout);
	fprintf(stderr, "fsbench: %-8s %8.1f MiB/s (%.2f s)\n", phase, rate,
	    secs);
}

/*
 * The large file: written in blocks, fsynced, closed; its pages dropped;
 * read back whole and compared.  Prints the bigwrite and bigread lines.
 */
static int
run_big(struct fsb_run *run)
{
	const struct fsb_opts *o = run->opts;
	size_t len = (size_t)o->big_mib << 20, off, n;
	unsigned char *want, *got;
	char path[PATH_MAX];
	uint64_t t0, t1;
	ssize_t r;
	int fd = -1, rc = -1, e, dropped;

	want = xmalloc(len);
	got = xmalloc(len + 1);
	fill_pattern(want, len, UINT64_MAX / 3);
	snprintf(path, sizeof path, "%s/big", run->root);

	t0 = now_ns();
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd == -1) {
		fail(run, "open(O_CREAT|O_EXCL)", path);
		goto out;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < o->block ? len - off : o->block;
		if (fd_write_all(fd, want + off, n) == -1) {
			fail(run, "write", path);
			goto out;
		}
	}
	if (fsync(fd) == -1) {
		fail(run, "fsync", path);
		goto out;
	}
	if (close_file(run, &fd, path) == -1)
		goto out;
	t1 = now_ns();
	print_big(o, "bigwrite", t1 - t0, 1, 0);

	if (o->drop_caches) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			fail(run, "open(O_RDONLY)", path);
			goto out;
		}
		e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (e != 0) {
			errno = e;
			fail(run, "posix_fadvise(DONTNEED)", path);
			goto out;
		}
		if (close_file(run, &fd, path) == -1)
			goto out;
	}
	if ((dropped = drop_caches(o)) == -1)
		goto out;

	t0 = now_ns();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		fail(run, "open(O_RDONLY)", path);
		goto out;
	}
	for (off = 0; off <= len; off += (size_t)r) {
		n = len + 1 - off < o->block ? len + 1 - off : o->block;
		r = read(fd, got + off, n);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r < 0) {
			fail(run, "read", path);
			goto out;
		}
		if (r == 0)
			break;
	}
	if (close_file(run, &fd, path) == -1)
		goto out;
	t1 = now_ns();
	if (off != len || memcmp(got, want, len) != 0) {
		failx(run, "read %s: %zu bytes%s; wanted the %zu bytes written",
		    path, off, off == len ? ", not those written" : "", len);
		goto out;
	}
	print_big(o, "bigread", t1 - t0, 0, dropped);

	if (unlink(path) == -1) {
		fail(run, "unlink", path);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(want);
	free(got);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fsbench [options] DIR\n"
"Creates, stats, reads, renames and deletes F files of S bytes with W writer\n"
"threads in a fresh directory under DIR, then writes (with fsync) and reads\n"
"back one large file; prints one RESULT line per phase.  Every call is\n"
"checked: any failure ends the run with exit status 1.\n"
"\n"
"  -w, --writers W        writer threads (default 4)\n"
"  -n, --files F          small files (default 4000)\n"
"  -s, --size S           bytes per small file (default 4096)\n"
"  -f, --fsync            fsync each small file before closing it\n"
"      --shared-dir       all files in one directory (default: one per\n"
"                         writer)\n"
"  -b, --big-mib M        the large file's size in MiB (default 64; 0: none)\n"
"      --block-kib K      the large file's write and read size (default 1024)\n"
"      --no-drop-caches   do not sync and drop caches before stat, read and\n"
"                         the large read (dropping them needs root)\n"
"  -h, --help             show this help\n");
}

/* Parse a whole number in [min, max] for option `name`; exits on error. */
static unsigned long
parse_count(const char *name, const char *arg, unsigned long min,
    unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		fprintf(stderr, "fsbench: %s takes a whole number from %lu to "
		    "%lu, not \"%s\"\n", name, min, max, arg);
		exit(FSB_EXIT_USAGE);
	}
	return v;
}

int
main(int argc, char **argv)
{
	enum { OPT_SHARED = 256, OPT_BLOCK, OPT_NO_DROP };
	static const struct option longopts[] = {
		{ "writers", required_argument, NULL, 'w' },
		{ "files", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "fsync", no_argument, NULL, 'f' },
		{ "shared-dir", no_argument, NULL, OPT_SHARED },
		{ "big-mib", required_argument, NULL, 'b' },
		{ "block-kib", required_argument, NULL, OPT_BLOCK },
		{ "no-drop-caches", no_argument, NULL, OPT_NO_DROP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsb_opts o = {
		.writers = 4, .files = 4000, .size = 4096, .big_mib = 64,
		.block = 1 << 20, .drop_caches = 1,
	};
	struct fsb_run run;
	struct fsb_writer *ws;
	char path[PATH_MAX];
	unsigned i;
	int c, dropped, rc = FSB_EXIT_FAILED;

	while ((c = getopt_long(argc, argv, "w:n:s:fb:h", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'w':
			o.writers = (unsigned)parse_count("--writers", optarg,
			    1, FSB_WRITERS_MAX);
			break;
		case 'n':
			o.files = parse_count("--files", optarg, 1,
			    FSB_FILES_MAX);
			break;
		case 's':
			o.size = parse_count("--size", optarg, 1,
			    FSB_SIZE_MAX);
			break;
		case 'f':
			o.fsync = 1;
			break;
		case OPT_SHARED:
			o.shared_dir = 1;
			break;
		case 'b':
			o.big_mib = parse_count("--big-mib", optarg, 0,
			    FSB_BIG_MIB_MAX);
			break;
		case OPT_BLOCK:
			o.block = parse_count("--block-kib", optarg, 1,
			    FSB_BLOCK_KIB_MAX) << 10;
			break;
		case OPT_NO_DROP:
			o.drop_caches = 0;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return FSB_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return FSB_EXIT_USAGE;
	}
	o.dir = argv[optind];
	if (o.writers > o.files) {
		fprintf(stderr, "fsbench: more writers (%u) than files (%lu)\n",
		    o.writers, o.files);
		return FSB_EXIT_USAGE;
	}

	memset(&run, 0, sizeof run);
	run.opts = &o;
	atomic_init(&run.failed, 0);
	if ((size_t)snprintf(run.root, sizeof run.root, "%s/fsbench.%ld",
	    o.dir, (long)getpid()) >= sizeof run.root) {
		fprintf(stderr, "fsbench: %s: path too long\n", o.dir);
		return FSB_EXIT_USAGE;
	}
	if (mkdir(run.root, 0755) == -1) {
		fail(NULL, "mkdir", run.root);
		return FSB_EXIT_FAILED;
	}
	ws = xcalloc(o.writers, sizeof *ws);
	for (i = 0; i < o.writers; i++) {
		ws[i].run = &run;
		ws[i].idx = i;
		ws[i].lat_ns = xcalloc(o.files / o.writers + 1,
		    sizeof *ws[i].lat_ns);
		ws[i].buf = xmalloc(o.size + 1);
		ws[i].want = xmalloc(o.size);
		if (o.shared_dir)
			continue;
		snprintf(path, sizeof path, "%s/t%u", run.root, i);
		if (mkdir(path, 0755) == -1) {
			fail(NULL, "mkdir", path);
			goto out;
		}
	}
	fprintf(stderr, "fsbench: %s: %u writers, %lu files of %zu bytes%s%s, "
	    "then %lu MiB in %zu KiB blocks\n", run.root, o.writers, o.files,
	    o.size, o.fsync ? ", fsync per file" : "",
	    o.shared_dir ? ", one directory" : "", o.big_mib, o.block >> 10);

	if (run_phase(&run, ws, FSB_CREATE, 0) == -1 ||
	    (dropped = drop_caches(&o)) == -1 ||
	    run_phase(&run, ws, FSB_STAT, dropped) == -1 ||
	    (dropped = drop_caches(&o)) == -1 ||
	    run_phase(&run, ws, FSB_READ, dropped) == -1 ||
	    run_phase(&run, ws, FSB_RENAME, 0) == -1 ||
	    run_phase(&run, ws, FSB_DELETE, 0) == -1)
		goto out;
	for (i = 0; i < o.writers && !o.shared_dir; i++) {
		snprintf(path, sizeof path, "%s/t%u", run.root, i);
		if (rmdir(path) == -1) {
			fail(NULL, "rmdir", path);
			goto out;
		}
	}
	if (o.big_mib > 0 && run_big(&run) == -1)
		goto out;
	if (rmdir(run.root) == -1) {
		fail(NULL, "rmdir", run.root);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "fsbench: failed; %s is left as it is\n",
		    run.root);
	for (i = 0; i < o.writers; i++) {
		free(ws[i].lat_ns);
		free(ws[i].buf);
		free(ws[i].want);
	}
	free(ws);
	return rc;
}
