/*
 * config.h - quorumd's configuration: a file (quorumd.conf(5), INI syntax
 * read with libinih) and command-line flags, flags winning.
 *
 * Every value is checked when loaded; a bad one is QERR_INVALID with a
 * message naming the file, line or flag and what was expected.
 */
#ifndef REPLICATION_CONFIG_H
#define REPLICATION_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_MEMBERS  512

struct config_member {
	char	*id;
	char	*addr;		/* host:port */
	char	*rack;		/* "" when none */
};

struct config {
	char			*id;
	char			*listen;	/* host:port; default: own member's */
	char			*data_dir;
	char			*rack;
	char			*cluster;
	char			*metrics;	/* host:port of the HTTP endpoint */
	char			*pid_file;
	char			*log_level;
	int			 daemonize;
	struct config_member	*members;
	size_t			 nmembers;
	unsigned		 n, r, w, vnodes;
	unsigned		 timeout_ms;
	unsigned		 disk_threads;
	size_t			 max_value_size;
	size_t			 max_frame;
	size_t			 max_key_size;
	/* Connection limits (replication/guard.h); 0: none. */
	unsigned		 max_clients;
	unsigned		 max_clients_per_host;
	unsigned		 max_peer_connections;
	size_t			 max_output;	/* a client's unread answers */
	unsigned		 max_inflight;	/* a client's open requests */
	unsigned		 frame_timeout_ms;
	size_t			 min_rate;	/* bytes per second */
	unsigned		 idle_timeout_ms;
	unsigned		 max_bad_frames;	/* in a row; 0: any */
	unsigned		 abuse_penalty_ms;	/* 0: no penalties */
	unsigned		 gossip_interval_ms;
	double			 phi_threshold;
	unsigned		 handoff_interval_ms;
	size_t			 handoff_rate;	/* bytes per second */
	size_t			 max_hint_bytes; /* per target; 0: no limit */
	unsigned		 ae_interval_ms;	/* 0: no periodic runs */
	size_t			 ae_rate;	/* bytes per second */
	char			*tombstone_purge;	/* replicas or grace */
	unsigned		 tombstone_min_age_ms;
	unsigned		 tombstone_grace_ms;
	unsigned		 purge_interval_ms;	/* 0: never */
	char			*seeds;		/* host:port,... to join through */
	size_t			 stream_rate;	/* transfers: bytes per second */
	char			*tls_ca;	/* the cluster CA (PEM) */
	char			*tls_cert;	/* this node's certificate */
	char			*tls_key;	/* its private key */
	int			 insecure;	/* plain TCP, said explicitly */
};

void	config_init(struct config *c);		/* the defaults */
void	config_release(struct config *c);
/* Read a config file over c. */
int	config_load_file(struct config *c, const char *path, char **err);
/* Read config text over c; name stands for the file in messages. */
int	config_load_string(struct config *c, const char *name, const char *text,
	    char **err);
/* Set one option by its name (the file's key, or a flag's long name). */
int	config_set(struct config *c, const char *name, const char *value,
	    char **err);
/*
 * Check the whole: required values present, R/W within N, self a member,
 * and either the three TLS files or insecure (never both, never neither).
 */
int	config_check(struct config *c, char **err);
/* Parse a member list "id@host:port[/rack], ..." into c->members. */
int	config_parse_members(struct config *c, const char *list, char **err);

#endif
