/* config.c - quorumd configuration from file and flags; see config.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "lib/qerr.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "replication/config.h"
#include "replication/conn.h"
#include "replication/ring.h"
#include "lib/log.h"
#include "store/causal.h"
#include "store/key.h"

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->cluster = xstrdup("quorumfs");
	c->log_level = xstrdup("info");
	c->rack = xstrdup("");
	c->n = 3;
	c->r = 2;
	c->w = 2;
	c->vnodes = 64;
	c->timeout_ms = 2000;
	c->disk_threads = 8;
	c->max_value_size = 64u << 20;
	c->max_frame = 80u << 20;
	c->max_key_size = KEY_MAX_LEN;
	c->max_clients = 4096;
	c->max_clients_per_host = 1024;
	c->max_peer_connections = 256;
	c->max_output = 256u << 20;
	c->max_inflight = 32;
	c->frame_timeout_ms = 30000;
	c->min_rate = 64u << 10;
	c->idle_timeout_ms = 600000;	/* 10 minutes */
	c->max_bad_frames = 8;
	c->abuse_penalty_ms = 10000;
	c->gossip_interval_ms = 200;
	c->phi_threshold = 8.0;
	c->handoff_interval_ms = 500;
	c->handoff_rate = 16u << 20;
	c->max_hint_bytes = 1ul << 30;
	c->ae_interval_ms = 30000;
	c->ae_rate = 32u << 20;
	c->tombstone_purge = xstrdup("replicas");
	c->tombstone_min_age_ms = 600000;	/* 10 minutes */
	c->tombstone_grace_ms = 86400000;	/* a day */
	c->purge_interval_ms = 60000;
	c->stream_rate = 32u << 20;
}

static void
members_release(struct config *c)
{
	size_t i;

	for (i = 0; i < c->nmembers; i++) {
		free(c->members[i].id);
		free(c->members[i].addr);
		free(c->members[i].rack);
	}
	free(c->members);
	c->members = NULL;
	c->nmembers = 0;
}

void
config_release(struct config *c)
{
	free(c->id);
	free(c->listen);
	free(c->data_dir);
	free(c->rack);
	free(c->cluster);
	free(c->metrics);
	free(c->pid_file);
	free(c->log_level);
	free(c->tombstone_purge);
	free(c->seeds);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	members_release(c);
}

static int
parse_uint(const char *name, const char *value, unsigned long lo,
    unsigned long hi, unsigned long *out, char **err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
	    v < lo || v > hi)
		return qerr_set(err, QERR_INVALID, "%s: \"%s\" is not a number "
		    "from %lu to %lu", name, value, lo, hi);
	*out = v;
	return 0;
}

static int
set_string(char **dst, const char *value)
{
	free(*dst);
	*dst = xstrdup(value);
	return 0;
}

/*
 * Commas and any white space (isspace) separate members: libinih trims
 * every white space character from the ends of a value, so a member can
 * never end with one (a form feed once ended up in a rack's name).
 */
#define MEMBER_SEPARATORS ", \t\n\v\f\r"

int
config_parse_members(struct config *c, const char *list, char **err)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	int rc = 0;

	members_release(c);
	for (tok = strtok_r(copy, MEMBER_SEPARATORS, &save); tok != NULL;
	    tok = strtok_r(NULL, MEMBER_SEPARATORS, &save)) {
		char *at = strchr(tok, '@'), *slash, host[256];
		struct config_member *m;
		int port;

		if (at == NULL || at == tok) {
			rc = qerr_set(err, QERR_INVALID, "member \"%s\" is not "
			    "id@host:port[/rack]", tok);
			break;
		}
		*at = '\0';
		slash = strchr(at + 1, '/');
		if (slash != NULL)
			*slash = '\0';
		if ((rc = node_id_validate(tok, err)) < 0 ||
		    (rc = addr_split(at + 1, host, sizeof(host), &port,
		    err)) < 0)
			break;
		if (strlen(tok) > 48 || strpbrk(tok, ":@/ ") != NULL) {
			rc = qerr_set(err, QERR_INVALID, "member id \"%s\": at "
			    "most 48 bytes, none of ':@/ '", tok);
			break;
		}
		if (c->nmembers == CONFIG_MAX_MEMBERS) {
			rc = qerr_set(err, QERR_INVALID, "more than %d members",
			    CONFIG_MAX_MEMBERS);
			break;
		}
		c->members = xreallocarray(c->members, c->nmembers + 1,
		    sizeof(*c->members));
		m = &c->members[c->nmembers++];
		m->id = xstrdup(tok);
		m->addr = xstrdup(at + 1);
		m->rack = xstrdup(slash != NULL ? slash + 1 : "");
	}
	free(copy);
	return rc;
}

int
config_set(struct config *c, const char *name, const char *value,
    char **err)
{
	unsigned long v;
	int rc;

	if (strcmp(name, "id") == 0) {
		if ((rc = node_id_validate(value, err)) < 0)
			return rc;
		return set_string(&c->id, value);
	}
	if (strcmp(name, "listen") == 0)
		return set_string(&c->listen, value);
	if (strcmp(name, "data_dir") == 0 || strcmp(name, "data-dir") == 0)
		return set_string(&c->data_dir, value);
	if (strcmp(name, "rack") == 0)
		return set_string(&c->rack, value);
	if (strcmp(name, "cluster") == 0 || strcmp(name, "name") == 0)
		return set_string(&c->cluster, value);
	if (strcmp(name, "metrics") == 0)
		return set_string(&c->metrics, value);
	if (strcmp(name, "pid_file") == 0 || strcmp(name, "pid-file") == 0)
		return set_string(&c->pid_file, value);
	if (strcmp(name, "log_level") == 0 || strcmp(name, "log-level") == 0)
		return set_string(&c->log_level, value);
	if (strcmp(name, "members") == 0)
		return config_parse_members(c, value, err);
	if (strcmp(name, "tls_ca") == 0 || strcmp(name, "tls-ca") == 0)
		return set_string(&c->tls_ca, value);
	if (strcmp(name, "tls_cert") == 0 || strcmp(name, "tls-cert") == 0)
		return set_string(&c->tls_cert, value);
	if (strcmp(name, "tls_key") == 0 || strcmp(name, "tls-key") == 0)
		return set_string(&c->tls_key, value);
	if (strcmp(name, "insecure") == 0) {
		if (value == NULL || strcmp(value, "yes") == 0 ||
		    strcmp(value, "true") == 0)
			c->insecure = 1;
		else if (strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0)
			c->insecure = 0;
		else
			return qerr_set(err, QERR_INVALID, "insecure: \"%s\": "
			    "use yes or no", value);
		return 0;
	}
	if (strcmp(name, "seeds") == 0) {
		char *copy = xstrdup(value), *save = NULL, *tok, host[256];
		int port;

		rc = 0;
		for (tok = strtok_r(copy, ", \t", &save); tok != NULL &&
		    rc == 0; tok = strtok_r(NULL, ", \t", &save))
			rc = addr_split(tok, host, sizeof(host), &port, err);
		free(copy);
		if (rc < 0)
			return qerr_wrap(err, rc, "seeds");
		return set_string(&c->seeds, value);
	}
#define UINT_OPTION(key, alt, field, lo, hi) \
	if (strcmp(name, key) == 0 || strcmp(name, alt) == 0) { \
		if ((rc = parse_uint(key, value, lo, hi, &v, err)) < 0) \
			return rc; \
		c->field = v; \
		return 0; \
	}
	UINT_OPTION("n", "replicas", n, 1, RING_MAX_N)
	UINT_OPTION("r", "read_quorum", r, 1, RING_MAX_N)
	UINT_OPTION("w", "write_quorum", w, 1, RING_MAX_N)
	UINT_OPTION("vnodes", "vnodes", vnodes, 1, 4096)
	UINT_OPTION("timeout_ms", "timeout-ms", timeout_ms, 10, 600000)
	UINT_OPTION("disk_threads", "disk-threads", disk_threads, 1, 64)
	UINT_OPTION("max_value_size", "max-value-size", max_value_size, 1,
	    1u << 30)
	UINT_OPTION("max_frame", "max-frame", max_frame, 4096, 1u << 30)
	UINT_OPTION("max_key_size", "max-key-size", max_key_size, 16,
	    KEY_MAX_LEN)
	UINT_OPTION("max_clients", "max-clients", max_clients, 0, 1000000)
	UINT_OPTION("max_clients_per_host", "max-clients-per-host",
	    max_clients_per_host, 0, 1000000)
	UINT_OPTION("max_peer_connections", "max-peer-connections",
	    max_peer_connections, 0, 1000000)
	UINT_OPTION("max_output", "max-output", max_output, 4096, 1ul << 40)
	UINT_OPTION("max_inflight", "max-inflight", max_inflight, 1, 1000000)
	UINT_OPTION("frame_timeout_ms", "frame-timeout-ms", frame_timeout_ms,
	    0, 86400000)
	UINT_OPTION("min_rate", "min-rate", min_rate, 0, 1u << 30)
	UINT_OPTION("idle_timeout_ms", "idle-timeout-ms", idle_timeout_ms, 0,
	    86400000)
	UINT_OPTION("max_bad_frames", "max-bad-frames", max_bad_frames, 0,
	    1000000)
	UINT_OPTION("abuse_penalty_ms", "abuse-penalty-ms", abuse_penalty_ms,
	    0, 3600000)
	UINT_OPTION("gossip_interval_ms", "gossip-interval-ms",
	    gossip_interval_ms, 10, 60000)
	UINT_OPTION("handoff_interval_ms", "handoff-interval-ms",
	    handoff_interval_ms, 10, 600000)
	UINT_OPTION("handoff_rate", "handoff-rate", handoff_rate, 1024,
	    1u << 30)
	UINT_OPTION("max_hint_bytes", "max-hint-bytes", max_hint_bytes, 0,
	    1ul << 50)
	UINT_OPTION("ae_interval_ms", "ae-interval-ms", ae_interval_ms, 0,
	    86400000)
	UINT_OPTION("ae_rate", "ae-rate", ae_rate, 1024, 1u << 30)
	UINT_OPTION("stream_rate", "stream-rate", stream_rate, 1024, 1u << 30)
	UINT_OPTION("tombstone_min_age_ms", "tombstone-min-age-ms",
	    tombstone_min_age_ms, 0, 4000000000u)
	UINT_OPTION("tombstone_grace_ms", "tombstone-grace-ms",
	    tombstone_grace_ms, 0, 4000000000u)
	UINT_OPTION("purge_interval_ms", "purge-interval-ms",
	    purge_interval_ms, 0, 86400000)
	if (strcmp(name, "tombstone_purge") == 0 ||
	    strcmp(name, "tombstone-purge") == 0) {
		if (strcmp(value, "replicas") != 0 &&
		    strcmp(value, "grace") != 0)
			return qerr_set(err, QERR_INVALID, "tombstone_purge: "
			    "\"%s\": use replicas or grace", value);
		return set_string(&c->tombstone_purge, value);
	}
#undef UINT_OPTION
	if (strcmp(name, "phi_threshold") == 0 ||
	    strcmp(name, "phi-threshold") == 0) {
		char *end;
		double d = strtod(value, &end);

		if (*end != '\0' || end == value || !(d >= 0.5 && d <= 100))
			return qerr_set(err, QERR_INVALID, "phi_threshold: "
			    "\"%s\" is not a number from 0.5 to 100", value);
		c->phi_threshold = d;
		return 0;
	}
	return qerr_set(err, QERR_INVALID, "unknown option \"%s\"", name);
}

struct ini_state {
	struct config	*c;
	char		*err;
	const char	*path;
	char		*members;	/* every members line so far, joined */
};

static int
config_ini_line(void *user, const char *section, const char *name,
    const char *value)
{
	struct ini_state *st = user;
	char *err = NULL;

	if (st->err != NULL)
		return 0;
	if (strcmp(section, "node") != 0 && strcmp(section, "cluster") != 0) {
		qerr_set(&st->err, QERR_INVALID, "%s: unknown section [%s]",
		    st->path, section);
		return 0;
	}
	/* libinih hands over each continuation line of a value on its own:
	 * members lines add up. */
	if (strcmp(name, "members") == 0) {
		char *joined;

		if (asprintf(&joined, "%s,%s", st->members ? st->members : "",
		    value) < 0)
			abort();
		free(st->members);
		st->members = joined;
		value = joined;
	}
	if (config_set(st->c, name, value, &err) < 0) {
		qerr_set(&st->err, QERR_INVALID, "%s: [%s] %s", st->path,
		    section, err);
		free(err);
		return 0;
	}
	return 1;
}

/*
 * libinih reads a line in pieces of INI_MAX_LINE - 1 bytes and takes each
 * piece for a line of its own: the end of a longer line would be parsed as
 * a line of its own (or skipped as a comment), and the value cut short.
 * So the text is fed through this reader, which notes the first such line
 * for config_load_string to refuse.
 */
struct text_reader {
	const char	*p;		/* what is left of the text */
	int		 line;		/* lines handed out so far */
	int		 too_long;	/* first line over the limit, or 0 */
};

static char *
text_read_line(char *str, int num, void *stream)
{
	struct text_reader *tr = stream;
	size_t len = strcspn(tr->p, "\n"), piece;

	if (*tr->p == '\0')
		return NULL;
	tr->line++;
	if (len > (size_t)num - 1 && tr->too_long == 0)
		tr->too_long = tr->line;
	/* The line with its newline, cut to what str holds. */
	piece = len + (tr->p[len] == '\n');
	if (piece > (size_t)num - 1)
		piece = (size_t)num - 1;
	memcpy(str, tr->p, piece);
	str[piece] = '\0';
	tr->p += len + (tr->p[len] == '\n');
	return str;
}

int
config_load_string(struct config *c, const char *name, const char *text,
    char **err)
{
	struct ini_state st = { c, NULL, name, NULL };
	struct text_reader tr = { text, 0, 0 };
	int line = ini_parse_stream(text_read_line, &tr, config_ini_line, &st);

	free(st.members);
	if (tr.too_long > 0) {
		free(st.err);
		return qerr_set(err, QERR_INVALID, "%s: line %d is longer than "
		    "%d bytes (continue a long value on indented lines)",
		    name, tr.too_long, INI_MAX_LINE - 1);
	}
	if (st.err != NULL) {
		qerr_set(err, QERR_INVALID, "%s (line %d)", st.err, line);
		free(st.err);
		return QERR_INVALID;
	}
	if (line != 0)
		return qerr_set(err, QERR_INVALID, "%s: line %d: not "
		    "\"key = value\" or [section]", name, line);
	return 0;
}

/* TLS with all three files, or insecure said in so many words. */
static int
config_check_security(const struct config *c, char **err)
{
	struct tls_files f = { c->tls_ca, c->tls_cert, c->tls_key };
	int rc;

	if ((rc = tls_files_given(&f, err)) < 0)
		return qerr_wrap(err, rc, "tls_ca, tls_cert, tls_key");
	if (rc == 1 && c->insecure)
		return qerr_set(err, QERR_INVALID, "insecure = yes and TLS "
		    "files both given: choose one");
	if (rc == 0 && !c->insecure)
		return qerr_set(err, QERR_INVALID, "no TLS credentials: give "
		    "tls_ca, tls_cert and tls_key (--tls-ca, --tls-cert, "
		    "--tls-key; see SECURITY in quorumd.conf(5)), or "
		    "insecure = yes (--insecure) to run without security");
	return 0;
}

int
config_load_file(struct config *c, const char *path, char **err)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = fopen(path, "r"), *mem;
	int rc;

	if (f == NULL)
		return qerr_set(err, QERR_INVALID, "%s: cannot open: %s", path,
		    strerror(errno));
	if ((mem = open_memstream(&text, &size)) == NULL)
		abort();
	for (;;) {
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf), f);

		fwrite(buf, 1, n, mem);
		if (n < sizeof(buf))
			break;
	}
	fclose(mem);
	if (ferror(f) || memchr(text, '\0', size) != NULL)
		rc = qerr_set(err, QERR_INVALID, "%s: %s", path, ferror(f) ?
		    "cannot read" : "a NUL byte: not a text file");
	else
		rc = config_load_string(c, path, text, err);
	fclose(f);
	free(text);
	return rc;
}

int
config_check(struct config *c, char **err)
{
	size_t i, j;
	int self = -1;

	if (c->id == NULL)
		return qerr_set(err, QERR_INVALID, "no node id (id = ... or "
		    "--id)");
	if (c->data_dir == NULL)
		return qerr_set(err, QERR_INVALID, "no data directory "
		    "(data_dir = ... or --data-dir)");
	if (c->nmembers == 0 && c->seeds == NULL)
		return qerr_set(err, QERR_INVALID, "no cluster members "
		    "(members = id@host:port, ... or --members) and no seeds "
		    "to join through (seeds = host:port or --seeds)");
	for (i = 0; i < c->nmembers; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(c->members[i].id, c->members[j].id) == 0)
				return qerr_set(err, QERR_INVALID, "member "
				    "\"%s\" listed twice", c->members[i].id);
		if (strcmp(c->members[i].id, c->id) == 0)
			self = (int)i;
	}
	/* A node joining through seeds is not in the list it was given
	 * (it learns the list from a seed): it needs its own address. */
	if (self < 0 && c->seeds == NULL)
		return qerr_set(err, QERR_INVALID, "this node \"%s\" is not in "
		    "the member list", c->id);
	if (self < 0 && c->listen == NULL)
		return qerr_set(err, QERR_INVALID, "a node joining through "
		    "seeds needs its address (listen = host:port or --listen)");
	if (c->listen == NULL)
		c->listen = xstrdup(c->members[self].addr);
	/*
	 * Racks shape every node's ring, so they must come from the member
	 * list every node shares: a rack set for this node alone would give
	 * it a ring the others do not have.
	 */
	if (self >= 0 && c->rack[0] != '\0' &&
	    strcmp(c->rack, c->members[self].rack) != 0)
		return qerr_set(err, QERR_INVALID, "rack \"%s\" differs from "
		    "this node's rack in the member list (\"%s\"): give racks "
		    "in members as id@host:port/rack, the same on every node",
		    c->rack, c->members[self].rack);
	if (c->r > c->n || c->w > c->n)
		return qerr_set(err, QERR_INVALID, "r=%u and w=%u must not "
		    "exceed n=%u", c->r, c->w, c->n);
	if (strcmp(c->tombstone_purge, "grace") == 0 &&
	    c->tombstone_grace_ms <= c->ae_interval_ms)
		return qerr_set(err, QERR_INVALID, "tombstone_grace_ms (%u) "
		    "must be longer than ae_interval_ms (%u), or a replica "
		    "could bring a purged key back", c->tombstone_grace_ms,
		    c->ae_interval_ms);
	if (c->max_frame <= c->max_value_size)
		return qerr_set(err, QERR_INVALID, "max_frame (%zu) must be "
		    "larger than max_value_size (%zu): a value and its "
		    "metadata travel in one frame", c->max_frame,
		    c->max_value_size);
	if (c->max_output < c->max_frame)
		return qerr_set(err, QERR_INVALID, "max_output (%zu) must be "
		    "at least max_frame (%zu): one answer of the largest size "
		    "must fit", c->max_output, c->max_frame);
	if (log_level_parse(c->log_level) < 0)
		return qerr_set(err, QERR_INVALID, "log level \"%s\": use "
		    "debug, info, warn or error", c->log_level);
	return config_check_security(c, err);
}
