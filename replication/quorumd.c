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
#include <unistd.h>

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
"      --rack RACK        this node's rack\n"
"      --n N --r R --w W  replicas per key, default read and write quorums\n"
"      --vnodes T         ring positions per node\n"
"      --timeout-ms MS    request timeout\n"
"      --metrics HOST:PORT  serve Prometheus metrics at /metrics\n"
"      --gossip-interval-ms MS, --phi-threshold PHI  failure detection\n"
"      --handoff-interval-ms MS, --handoff-rate BYTES/S  hinted handoff\n"
"      --ae-interval-ms MS, --ae-rate BYTES/S  anti-entropy (0: on demand)\n"
"      --tombstone-purge replicas|grace, --tombstone-min-age-ms MS,\n"
"      --tombstone-grace-ms MS, --purge-interval-ms MS  tombstone removal\n"
"      --log-level LEVEL  debug, info, warn or error\n"
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
	{ "ae-interval-ms", required_argument, NULL, 0 },
	{ "ae-rate", required_argument, NULL, 0 },
	{ "tombstone-purge", required_argument, NULL, 0 },
	{ "tombstone-min-age-ms", required_argument, NULL, 0 },
	{ "tombstone-grace-ms", required_argument, NULL, 0 },
	{ "purge-interval-ms", required_argument, NULL, 0 },
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

int
main(int argc, char **argv)
{
	struct config cfg;
	struct node *node = NULL;
	char *err = NULL;
	const char *config_file = NULL;
	int c, idx, rc = 1, i;

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

	if (cfg.daemonize && daemon(1, 1) < 0) {
		qerr_set(&err, QERR_IO, "daemon: %s", strerror(errno));
		goto fail;
	}
	if (cfg.pid_file != NULL && write_pid_file(cfg.pid_file, &err) < 0)
		goto fail;
	if (node_new(&cfg, &node, &err) < 0)
		goto fail;
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
	config_release(&cfg);
	return 1;
}
