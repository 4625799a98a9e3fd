/*
 * quorumd - one node of a quorumfs cluster.  See quorumd(8) and
 * quorumd.conf(5).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "lib/hugemem.h"
#include "lib/log.h"
#include "lib/qerr.h"
#include "replication/config.h"
#include "replication/node.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: quorumd [-c FILE] [options]\n"
"  -c, --config FILE      read quorumd.conf(5) FILE first; flags override it\n"
"      --id ID            this node's id (one of the members)\n"
"      --listen HOST:PORT address to serve on (default: this member's)\n"
"      --data-dir DIR     where the store lives\n"
"      --members LIST     id@host:port[/rack],... every member of the cluster\n"
"      --seeds H:P,...    join a running cluster through these members (the\n"
"                         member list is then learnt from them; needs --listen)\n"
"      --stream-rate BYTES/S  ranges moving in a join or leave\n"
"      --rack RACK        this node's rack\n"
"      --n N --r R --w W  replicas per key, default read and write quorums\n"
"      --vnodes T         ring positions per node\n"
"      --timeout-ms MS    request timeout\n"
"      --metrics HOST:PORT  serve Prometheus metrics at /metrics\n"
"      --gossip-interval-ms MS, --phi-threshold PHI  failure detection\n"
"      --handoff-interval-ms MS, --handoff-rate BYTES/S  hinted handoff\n"
"      --max-hint-bytes BYTES  hints kept for one member (0: no limit)\n"
"      --ae-interval-ms MS, --ae-rate BYTES/S  anti-entropy (0: on demand)\n"
"      --tombstone-purge replicas|grace, --tombstone-min-age-ms MS,\n"
"      --tombstone-grace-ms MS, --purge-interval-ms MS  tombstone removal\n"
"      --max-frame BYTES, --max-value-size BYTES, --max-key-size BYTES\n"
"                         the largest frame, value and key accepted\n"
"      --max-clients N, --max-clients-per-host N, --max-peer-connections N\n"
"                         connections accepted (0: no limit)\n"
"      --max-output BYTES, --max-inflight N  a client's unread answers and\n"
"                         unanswered requests\n"
"      --frame-timeout-ms MS, --min-rate BYTES/S, --idle-timeout-ms MS\n"
"                         cut slow frames, unread answers, idle clients\n"
"      --max-bad-frames N, --abuse-penalty-ms MS  close a client after N\n"
"                         undecodable frames in a row; shut out a source\n"
"                         whose connections keep being closed for abuse\n"
"      --log-level LEVEL  debug, info, warn or error\n"
"      --tls-ca FILE, --tls-cert FILE, --tls-key FILE  the cluster CA, this\n"
"                         node's certificate and key (TLS, mutual)\n"
"      --insecure         no TLS: plain, unauthenticated TCP (a local test\n"
"                         cluster only; one of the two is required)\n"
"  -d, --daemon           detach; with --pid-file FILE write the pid there\n"
"      --pid-file FILE\n"
"  -h, --help\n");
}

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "daemon", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "id", required_argument, NULL, 0 },
	{ "listen", required_argument, NULL, 0 },
	{ "data-dir", required_argument, NULL, 0 },
	{ "members", required_argument, NULL, 0 },
	{ "rack", required_argument, NULL, 0 },
	{ "n", required_argument, NULL, 0 },
	{ "r", required_argument, NULL, 0 },
	{ "w", required_argument, NULL, 0 },
	{ "vnodes", required_argument, NULL, 0 },
	{ "timeout-ms", required_argument, NULL, 0 },
	{ "disk-threads", required_argument, NULL, 0 },
	{ "max-value-size", required_argument, NULL, 0 },
	{ "metrics", required_argument, NULL, 0 },
	{ "log-level", required_argument, NULL, 0 },
	{ "pid-file", required_argument, NULL, 0 },
	{ "cluster", required_argument, NULL, 0 },
	{ "gossip-interval-ms", required_argument, NULL, 0 },
	{ "phi-threshold", required_argument, NULL, 0 },
	{ "handoff-interval-ms", required_argument, NULL, 0 },
	{ "handoff-rate", required_argument, NULL, 0 },
	{ "max-hint-bytes", required_argument, NULL, 0 },
	{ "ae-interval-ms", required_argument, NULL, 0 },
	{ "ae-rate", required_argument, NULL, 0 },
	{ "tombstone-purge", required_argument, NULL, 0 },
	{ "tombstone-min-age-ms", required_argument, NULL, 0 },
	{ "tombstone-grace-ms", required_argument, NULL, 0 },
	{ "purge-interval-ms", required_argument, NULL, 0 },
	{ "seeds", required_argument, NULL, 0 },
	{ "stream-rate", required_argument, NULL, 0 },
	{ "tls-ca", required_argument, NULL, 0 },
	{ "tls-cert", required_argument, NULL, 0 },
	{ "tls-key", required_argument, NULL, 0 },
	{ "insecure", no_argument, NULL, 0 },
	{ "max-frame", required_argument, NULL, 0 },
	{ "max-key-size", required_argument, NULL, 0 },
	{ "max-clients", required_argument, NULL, 0 },
	{ "max-clients-per-host", required_argument, NULL, 0 },
	{ "max-peer-connections", required_argument, NULL, 0 },
	{ "max-output", required_argument, NULL, 0 },
	{ "max-inflight", required_argument, NULL, 0 },
	{ "frame-timeout-ms", required_argument, NULL, 0 },
	{ "min-rate", required_argument, NULL, 0 },
	{ "idle-timeout-ms", required_argument, NULL, 0 },
	{ "max-bad-frames", required_argument, NULL, 0 },
	{ "abuse-penalty-ms", required_argument, NULL, 0 },
	{ NULL, 0, NULL, 0 }
};

static int
write_pid_file(const char *path, char **err)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return qerr_set(err, QERR_IO, "pid file %s: %s", path,
		    strerror(errno));
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, strlen(buf)) < 0) {
		close(fd);
		return qerr_set(err, QERR_IO, "pid file %s: %s", path,
		    strerror(errno));
	}
	close(fd);
	return 0;
}

/*
 * Fork; the parent waits for one byte on a pipe from the child (0: the
 * node is up, else it failed and said why on stderr) and exits with it.
 * The child goes on in a new session, its read end of nothing, and later
 * reports through *ready_fd.
 */
static int
detach(int *ready_fd, char **err)
{
	int fds[2], devnull;
	pid_t pid;
	char status = 1;

	if (pipe(fds) < 0)
		return qerr_set(err, QERR_IO, "pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		return qerr_set(err, QERR_IO, "fork: %s", strerror(errno));
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;	/* the child died before saying */
		_exit(status == 0 ? 0 : 1);
	}
	close(fds[0]);
	setsid();
	if ((devnull = open("/dev/null", O_RDWR)) >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	*ready_fd = fds[1];
	return 0;
}

static void
report_ready(int *ready_fd, int failed)
{
	char status = failed ? 1 : 0;

	if (*ready_fd < 0)
		return;
	/* If the parent is gone there is no one to tell: ignore the result. */
	(void)!write(*ready_fd, &status, 1);
	close(*ready_fd);
	*ready_fd = -1;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct node *node = NULL;
	char *err = NULL;
	const char *config_file = NULL;
	int c, idx, rc = 1, i, ready_fd = -1;

	hugemem_reexec(argv);
	config_init(&cfg);
	/* The file first, so that flags given in any order override it. */
	for (i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			config_file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config_file = argv[i] + 9;
	}
	if (config_file != NULL && config_load_file(&cfg, config_file,
	    &err) < 0)
		goto fail;

	while ((c = getopt_long(argc, argv, "c:dh", long_options,
	    &idx)) != -1) {
		switch (c) {
		case 'c':
			break;
		case 'd':
			cfg.daemonize = 1;
			break;
		case 'h':
			usage(stdout);
			config_release(&cfg);
			return 0;
		case 0:
			/* A flag without argument (--insecure) says yes. */
			if (config_set(&cfg, long_options[idx].name, optarg,
			    &err) < 0)
				goto fail;
			break;
		default:
			usage(stderr);
			config_release(&cfg);
			return 2;
		}
	}
	if (optind < argc) {
		qerr_set(&err, QERR_INVALID, "unexpected argument \"%s\"",
		    argv[optind]);
		goto fail;
	}
	if (config_check(&cfg, &err) < 0)
		goto fail;
	log_init("quorumd", (enum log_level)log_level_parse(cfg.log_level));

	/*
	 * Detach before opening anything (LevelDB's threads do not survive a
	 * fork), but let the parent exit only once the node is up, with the
	 * child's verdict: a daemon that cannot start says so in its exit
	 * status, and leaves no pid file.
	 */
	if (cfg.daemonize && detach(&ready_fd, &err) < 0)
		goto fail;
	if (node_new(&cfg, &node, &err) < 0)
		goto fail;
	if (cfg.pid_file != NULL && write_pid_file(cfg.pid_file, &err) < 0) {
		node_free(node);
		goto fail;
	}
	report_ready(&ready_fd, 0);
	rc = node_run(node) < 0 ? 1 : 0;
	node_free(node);
	log_info("stopped");
	if (cfg.pid_file != NULL)
		unlink(cfg.pid_file);
	config_release(&cfg);
	return rc;
fail:
	fprintf(stderr, "quorumd: %s\n", err ? err : "failed");
	free(err);
	report_ready(&ready_fd, 1);
	config_release(&cfg);
	return 1;
}
