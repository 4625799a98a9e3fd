/*
 * quorumfs - mount a quorumfs cluster with FUSE: paths are keys, files
 * are values, concurrent versions are files named name.~sibling-N.
 * See quorumfs(1).
 *
 *   quorumfs [-f] [-d] -o nodes=H:P,... MOUNTPOINT
 *   quorumfs NODES MOUNTPOINT [-o ...]      (the form mount(8) uses for
 *                                            fuse.quorumfs in fstab)
 *
 * main: parse options, open the client and check that a node answers
 * (a clear message and exit 1 if none does), then create the session,
 * mount, daemonize unless -f, run the multi-threaded loop, and unmount
 * and free in reverse order.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/dirsnap.h"
#include "fs/file.h"
#include "fs/lcache.h"
#include "fs/mountopt.h"
#include "fs/qfs.h"
#include "fs/sizehint.h"
#include "fs/unsettled.h"
#include "fs/view.h"
#include "lib/hugemem.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"

/*
 * A lookup's read waits in the cache only for the call the kernel sends
 * right after it: a slot for each request in flight is plenty.  Sizes are
 * kept for many more files (16 bytes each).
 */
#define LCACHE_SLOTS	256
#define SIZEHINT_SLOTS	(64u << 10)
/* Keys whose write failed and that were not written since (unsettled.h):
 * failures are rare, and each key is searched for on every write. */
#define UNSETTLED_KEYS	256
/*
 * Directories being filled, whose names a lookup answers from their last
 * listing (dirsnap.h): a few at a time are usual, and one of up to 4096
 * names is listed in one request and kept in 64 KiB at most.  A bigger
 * one is looked up name by name, as before.
 */
#define DIRSNAP_SLOTS		64
#define DIRSNAP_MAX_NAMES	4096

struct qfs_opts {
	char		*nodes;
	unsigned	 r, w;
	double		 timeout;	/* seconds */
	double		 attr_timeout, entry_timeout;
	char		*max_file;
	char		*log_file;
	char		*log_level;
	int		 writeback;
	char		*tls_ca, *tls_cert, *tls_key;
	char		*source;	/* the first non-option: NODES */
	char		*mountpoint;
	int		 help, version;
};

#define QOPT(t, p) { t, offsetof(struct qfs_opts, p), 1 }
static const struct fuse_opt opt_spec[] = {
	QOPT("nodes=%s", nodes),
	QOPT("r=%u", r),
	QOPT("w=%u", w),
	QOPT("timeout=%lf", timeout),
	QOPT("attr_timeout=%lf", attr_timeout),
	QOPT("entry_timeout=%lf", entry_timeout),
	QOPT("max_file=%s", max_file),
	QOPT("log=%s", log_file),
	QOPT("log_level=%s", log_level),
	QOPT("writeback", writeback),
	QOPT("tls_ca=%s", tls_ca),
	QOPT("tls_cert=%s", tls_cert),
	QOPT("tls_key=%s", tls_key),
	QOPT("-h", help),
	QOPT("--help", help),
	QOPT("-V", version),
	QOPT("--version", version),
	/* What mount(8) adds for fstab lines: not for FUSE. */
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

static void
usage(const char *prog)
{
	printf(
"usage: %s [options] MOUNTPOINT\n"
"       %s NODES MOUNTPOINT [options]\n"
"\n"
"quorumfs options (-o name=value,...):\n"
"    nodes=H:P,...        nodes to talk to, in order of preference\n"
"                         (or NODES as the first argument)\n"
"    r=R, w=W             read and write quorums (default: the cluster's)\n"
"    timeout=SECONDS      request timeout (default 5)\n"
"    attr_timeout=SECONDS how long the kernel caches attributes (1)\n"
"    entry_timeout=SECONDS how long it caches names (1)\n"
"    max_file=BYTES       largest file (default 64M, the store's)\n"
"    writeback            enable the kernel's writeback cache (off)\n"
"    log=FILE             append log lines to FILE (default stderr)\n"
"    log_level=LEVEL      debug, info, warn (default) or error\n"
"    tls_ca=FILE,tls_cert=FILE,tls_key=FILE  TLS with the cluster CA, a\n"
"                         client certificate and its key (none: plain TCP)\n"
"The kernel checks permissions against each file's owner and mode\n"
"(default_permissions, always on); other users reach the mount only\n"
"with allow_other.\n"
"\n", prog, prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Non-options: NODES (when two are given) and MOUNTPOINT. */
static int
opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct qfs_opts *o = data;

	(void)outargs;
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (o->mountpoint == NULL) {
		o->mountpoint = xstrdup(arg);
		return 0;
	}
	if (o->source != NULL) {
		fprintf(stderr, "quorumfs: too many arguments: %s\n", arg);
		return -1;
	}
	/* Two arguments: the first was NODES. */
	o->source = o->mountpoint;
	o->mountpoint = xstrdup(arg);
	return 0;
}

/*
 * How long a lookup's read may serve the call after it: no longer than the
 * kernel trusts the lookup's answer itself (quorumfs(1)).
 */
static int64_t
reuse_ms(const struct qfs *fs)
{
	double t = fs->entry_timeout < fs->attr_timeout ? fs->entry_timeout :
	    fs->attr_timeout;

	return (int64_t)(t * 1000);
}

/*
 * Ask the cluster for its ring: proves a node answers, and gives N and the
 * default R and W.
 */
static int
cluster_probe(struct qfs *fs, char **err)
{
	Quorum__Envelope *reply;
	int rc;

	if ((rc = qc_ring(fs->qc, -1, &reply, err)) < 0)
		return rc;
	fs->n = reply->ring_response->n;
	if (fs->r == 0)
		fs->r = reply->ring_response->r;
	if (fs->w == 0)
		fs->w = reply->ring_response->w;
	qc_reply_free(reply);
	return 0;
}

static int
log_setup(const struct qfs_opts *o)
{
	int level = o->log_level ? log_level_parse(o->log_level) : LOG_WARN;

	if (level < 0) {
		fprintf(stderr, "quorumfs: log_level=%s: not debug, info, "
		    "warn or error\n", o->log_level);
		return -1;
	}
	log_init("quorumfs", (enum log_level)level);
	return 0;
}

/* After daemonizing (stderr is /dev/null then): log to the file. */
static void
log_redirect(const char *path)
{
	int fd;

	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "quorumfs: log=%s: %s\n", path,
		    strerror(errno));
		return;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* argv with every -o list passed through mountopt_nodes_rejoin (leaked: main's). */
static char **
argv_rejoin(int argc, char **argv)
{
	char **v = xcalloc((size_t)argc + 1, sizeof(*v));
	int i;

	for (i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i - 1], "-o") == 0)
			v[i] = mountopt_nodes_rejoin(argv[i]);
		else if (strncmp(argv[i], "-o", 2) == 0 && argv[i][2] != '\0') {
			char *r = mountopt_nodes_rejoin(argv[i] + 2);

			v[i] = xmalloc(strlen(r) + 3);
			sprintf(v[i], "-o%s", r);
			free(r);
		} else
			v[i] = xstrdup(argv[i]);
	}
	return v;
}

static void
argv_free(int argc, char **v)
{
	int i;

	for (i = 0; i < argc; i++)
		free(v[i]);
	free(v);
}

int
main(int argc, char **argv)
{
	char **av;
	struct fuse_args args;
	struct fuse_cmdline_opts copts;
	struct fuse_loop_config *lcfg = NULL;
	struct qfs_opts o;
	struct qfs fs;
	struct qc_options qo;
	char *err = NULL;
	int rc, ret = 1;

	/* A file is one value of up to 64 MiB, copied whole (lib/hugemem.h). */
	hugemem_reexec(argv);
	av = argv_rejoin(argc, argv);
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, av);
	memset(&o, 0, sizeof(o));
	memset(&fs, 0, sizeof(fs));
	o.timeout = 5;
	o.attr_timeout = 1;
	o.entry_timeout = 1;
	memset(&copts, 0, sizeof(copts));
	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) < 0)
		goto out_cmdline;
	if (o.help) {
		usage(argv[0]);
		ret = 0;
		goto out_cmdline;
	}
	if (o.version) {
		printf("quorumfs %s, FUSE library %s\n", PACKAGE_VERSION,
		    fuse_pkgversion());
		ret = 0;
		goto out_cmdline;
	}
	if (log_setup(&o) < 0)
		goto out_cmdline;
	/* mount(8) passes a placeholder source when nodes= is an option. */
	if (o.nodes == NULL && o.source != NULL && strchr(o.source, ':'))
		o.nodes = xstrdup(o.source);
	if (o.nodes == NULL || o.mountpoint == NULL) {
		fprintf(stderr, "quorumfs: %s\n", o.mountpoint == NULL ?
		    "no mount point given" : "no nodes given: -o nodes=H:P,... "
		    "or NODES before the mount point");
		fprintf(stderr, "usage: quorumfs -o nodes=H:P,... MOUNTPOINT "
		    "(see quorumfs -h)\n");
		goto out_cmdline;
	}
	fuse_opt_add_arg(&args, o.mountpoint);
	if (fuse_parse_cmdline(&args, &copts) != 0)
		goto out_cmdline;
	fs.max_file = QFS_MAX_FILE_DEFAULT;
	if (o.max_file && mountopt_size_parse(o.max_file, &fs.max_file,
	    &err) < 0) {
		fprintf(stderr, "quorumfs: max_file=%s\n", err);
		free(err);
		goto out_cmdline;
	}
	if (o.timeout <= 0 || o.timeout > 3600 || o.attr_timeout < 0 ||
	    o.entry_timeout < 0) {
		fprintf(stderr, "quorumfs: timeouts must be positive "
		    "(timeout at most 3600 s)\n");
		goto out_cmdline;
	}
	fs.attr_timeout = o.attr_timeout;
	fs.entry_timeout = o.entry_timeout;
	fs.uid = getuid();
	fs.gid = getgid();
	fs.r = o.r;
	fs.w = o.w;
	fs.spill_at = QFS_SPILL_DEFAULT;
	fs.writeback = o.writeback;

	memset(&qo, 0, sizeof(qo));
	qo.nodes = o.nodes;
	qo.timeout_ms = (unsigned)(o.timeout * 1000);
	qo.r = o.r;
	qo.w = o.w;
	qo.tls_ca = o.tls_ca;
	qo.tls_cert = o.tls_cert;
	qo.tls_key = o.tls_key;
	if ((rc = qc_open(&qo, &fs.qc, &err)) < 0) {
		fprintf(stderr, "quorumfs: nodes=%s: %s\n", o.nodes, err);
		free(err);
		goto out_cmdline;
	}
	if ((rc = cluster_probe(&fs, &err)) < 0) {
		fprintf(stderr, "quorumfs: cannot mount %s: %s (%s)\n",
		    o.mountpoint, err ? err : "no node answered",
		    qerr_name(rc));
		goto out_qc;
	}
	fs.keep_written = fs.r + fs.w <= fs.n;
	fs.itab = itab_new(file_local_free);
	fs.lcache = lcache_new(LCACHE_SLOTS, reuse_ms(&fs), kview_kept_free);
	fs.sizes = sizehint_new(SIZEHINT_SLOTS);
	fs.unsettled = unsettled_new(UNSETTLED_KEYS);
	pthread_mutex_init(&fs.df_lock, NULL);
	/* A listing shows every acknowledged write only when R + W > N. */
	fs.dirsnap = dirsnap_new(DIRSNAP_SLOTS, fs.keep_written ? 0 :
	    reuse_ms(&fs), DIRSNAP_MAX_NAMES);

	/*
	 * The kernel checks every access against the stored owner and mode:
	 * without it, anyone who reaches the mount (allow_other) could read
	 * any file.  Other users reach it only with allow_other, as asked.
	 */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	fs.se = fuse_session_new(&args, &qfs_ops, sizeof(qfs_ops), &fs);
	if (fs.se == NULL)
		goto out_itab;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	if (fuse_session_mount(fs.se, copts.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(copts.foreground) != 0)
		goto out_unmount;
	if (!copts.foreground)
		log_redirect(o.log_file);
	else if (o.log_file)
		log_redirect(o.log_file);
	log_info("mounted %s on %s (n=%u r=%u w=%u)", o.nodes,
	    copts.mountpoint, fs.n, fs.r, fs.w);
	if (copts.singlethread)
		ret = fuse_session_loop(fs.se);
	else {
		lcfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lcfg, copts.clone_fd);
		/* Unset, these hold -1: keep the library's defaults. */
		if (copts.max_threads > 0 && copts.max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(lcfg,
			    copts.max_threads);
		if (copts.max_idle_threads <= 100000)
			fuse_loop_cfg_set_idle_threads(lcfg,
			    copts.max_idle_threads);
		ret = fuse_session_loop_mt(fs.se, lcfg);
		fuse_loop_cfg_destroy(lcfg);
	}
	ret = ret != 0;
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_itab:
	dirsnap_free(fs.dirsnap);
	pthread_mutex_destroy(&fs.df_lock);
	sizehint_free(fs.sizes);
	unsettled_free(fs.unsettled);
	lcache_free(fs.lcache);
	itab_free(fs.itab);
out_qc:
	free(err);
	qc_close(fs.qc);
out_cmdline:
	free(copts.mountpoint);
	fuse_opt_free_args(&args);
	free(o.nodes);
	free(o.max_file);
	free(o.log_file);
	free(o.log_level);
	free(o.tls_ca);
	free(o.tls_cert);
	free(o.tls_key);
	free(o.source);
	free(o.mountpoint);
	argv_free(argc, av);
	return ret;
}
