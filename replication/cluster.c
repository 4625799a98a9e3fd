/* cluster.c - the versioned member list; see cluster.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/addr.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/cluster.h"

void
cluster_init(struct cluster *c)
{
	memset(c, 0, sizeof(*c));
}

void
cluster_release(struct cluster *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->m[i].id);
		free(c->m[i].addr);
		free(c->m[i].rack);
	}
	free(c->m);
	memset(c, 0, sizeof(*c));
}

const char *
cluster_state_name(enum cluster_state s)
{
	switch (s) {
	case CLUSTER_JOINING: return "joining";
	case CLUSTER_NORMAL:  return "normal";
	case CLUSTER_LEAVING: return "leaving";
	case CLUSTER_LEFT:    return "left";
	}
	return "unknown";
}

long
cluster_find(const struct cluster *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->m[i].id, id) == 0)
			return (long)i;
	return -1;
}

/* Does (state, version, addr) b win over the entry a? */
static int
entry_wins(const struct cluster_member *a, int state, uint64_t version,
    const char *addr, const char *rack)
{
	int c;

	if (version != a->version)
		return version > a->version;
	if (state != (int)a->state)
		return state > (int)a->state;
	if ((c = strcmp(addr, a->addr)) != 0)
		return c > 0;
	return strcmp(rack, a->rack) > 0;
}

int
cluster_merge(struct cluster *c, const char *id, const char *addr,
    const char *rack, int state, uint64_t version, char **err)
{
	struct cluster_member *m;
	char host[256];
	int port, rc;
	long i;

	if (id == NULL || id[0] == '\0' || strlen(id) > 48 ||
	    strpbrk(id, ":@/ \n") != NULL)
		return qerr_set(err, QERR_INVALID, "member id \"%s\" is not "
		    "valid", id ? id : "");
	if (addr == NULL || (rc = addr_split(addr, host, sizeof(host), &port,
	    err)) < 0)
		return addr == NULL ? qerr_set(err, QERR_INVALID, "member %s "
		    "has no address", id) : rc;
	if (rack == NULL)
		rack = "";
	if (strlen(rack) > 64 || strpbrk(rack, " \n") != NULL)
		return qerr_set(err, QERR_INVALID, "rack \"%s\" is not valid",
		    rack);
	if (state < CLUSTER_JOINING || state > CLUSTER_LEFT || version == 0)
		return qerr_set(err, QERR_INVALID, "member %s: bad state %d or "
		    "version", id, state);
	if ((i = cluster_find(c, id)) >= 0) {
		char *a, *r;

		m = &c->m[i];
		if (!entry_wins(m, state, version, addr, rack))
			return 0;
		/* Copy first: addr and rack may be the entry's own. */
		a = xstrdup(addr);
		r = xstrdup(rack);
		free(m->addr);
		free(m->rack);
		m->addr = a;
		m->rack = r;
	} else {
		c->m = xreallocarray(c->m, c->n + 1, sizeof(*c->m));
		m = &c->m[c->n++];
		m->id = xstrdup(id);
		m->addr = xstrdup(addr);
		m->rack = xstrdup(rack);
	}
	m->state = (enum cluster_state)state;
	m->version = version;
	return 1;
}

int
cluster_owns_now(const struct cluster *c, size_t i)
{
	return c->m[i].state == CLUSTER_NORMAL ||
	    c->m[i].state == CLUSTER_LEAVING;
}

int
cluster_owns_next(const struct cluster *c, size_t i)
{
	return c->m[i].state == CLUSTER_NORMAL ||
	    c->m[i].state == CLUSTER_JOINING;
}

int
cluster_in_change(const struct cluster *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->m[i].state == CLUSTER_JOINING ||
		    c->m[i].state == CLUSTER_LEAVING)
			return 1;
	return 0;
}

size_t
cluster_count_now(const struct cluster *c)
{
	size_t i, k = 0;

	for (i = 0; i < c->n; i++)
		k += cluster_owns_now(c, i) != 0;
	return k;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp((*(const struct cluster_member *const *)a)->id,
	    (*(const struct cluster_member *const *)b)->id);
}

uint64_t
cluster_digest(const struct cluster *c)
{
	const struct cluster_member **s = xcalloc(c->n + 1, sizeof(*s));
	XXH3_state_t *st = XXH3_createState();
	uint64_t d;
	size_t i;

	for (i = 0; i < c->n; i++)
		s[i] = &c->m[i];
	qsort(s, c->n, sizeof(*s), by_id);
	XXH3_64bits_reset(st);
	for (i = 0; i < c->n; i++) {
		char buf[64];
		int len = snprintf(buf, sizeof(buf), "%d:%llu", (int)s[i]->state,
		    (unsigned long long)s[i]->version);

		XXH3_64bits_update(st, s[i]->id, strlen(s[i]->id) + 1);
		XXH3_64bits_update(st, s[i]->addr, strlen(s[i]->addr) + 1);
		XXH3_64bits_update(st, s[i]->rack, strlen(s[i]->rack) + 1);
		XXH3_64bits_update(st, buf, (size_t)len + 1);
	}
	d = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	free(s);
	return d == 0 ? 1 : d;
}

uint64_t
cluster_version(const struct cluster *c)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < c->n; i++)
		v += c->m[i].version;
	return v;
}

int
cluster_load(struct cluster *c, const char *path, char **err)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int rc = 0, lineno = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : qerr_set(err, QERR_IO, "%s: %s",
		    path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char id[64], addr[300], rack[80];
		int state;
		unsigned long long version;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%63s %299s %79s %d %llu", id, addr, rack,
		    &state, &version) != 5) {
			rc = qerr_set(err, QERR_CORRUPT, "%s: line %d is not "
			    "\"id addr rack state version\"", path, lineno);
			break;
		}
		if ((rc = cluster_merge(c, id, addr, strcmp(rack, "-") == 0 ?
		    "" : rack, state, version, err)) < 0) {
			rc = qerr_wrap(err, QERR_CORRUPT, "%s: line %d", path,
			    lineno);
			break;
		}
		rc = 0;
	}
	fclose(f);
	return rc;
}

int
cluster_save(const struct cluster *c, const char *path, char **err)
{
	char tmp[4200];
	FILE *f;
	size_t i;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return qerr_set(err, QERR_IO, "%s: %s", tmp, strerror(errno));
	fprintf(f, "# quorumd member list: id address rack state version\n");
	for (i = 0; i < c->n; i++)
		fprintf(f, "%s %s %s %d %llu\n", c->m[i].id, c->m[i].addr,
		    c->m[i].rack[0] ? c->m[i].rack : "-", (int)c->m[i].state,
		    (unsigned long long)c->m[i].version);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) < 0)
		return qerr_set(err, QERR_IO, "%s: %s", path, strerror(errno));
	return 0;
}
