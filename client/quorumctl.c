/*
 * quorumctl - the command line of a quorumfs cluster, for scripts and
 * operators.  See quorumctl(1).
 *
 * Exit status: 0 success; 1 an error; 2 bad usage; 3 the key does not
 * exist (or is deleted); 4 the key has concurrent versions (siblings);
 * 5 the cluster could not meet the quorum or could not be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/bench.h"
#include "client/capacity.h"
#include "client/qclient.h"
#include "fs/siblings.h"
#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/wire.h"
#include "replication/ring.h"
#include "store/key.h"
#include "store/record.h"

#define EXIT_ERROR     1
#define EXIT_USAGE     2
#define EXIT_ABSENT    3
#define EXIT_CONFLICT  4
#define EXIT_CLUSTER   5

struct ctl {
	struct qc_options	 opt;
	struct qc		*qc;
	const char		*context_arg;	/* hex, or @FILE */
	const char		*context_out;	/* write the context here */
	const char		*siblings_dir;
	const char		*file;
	int			 blind;
	int			 strict;
	uint64_t		 request_id;	/* --request-id; 0: random */
	int			 retry;
	int			 long_list;
	unsigned		 wait_s;
	int			 one_node;	/* --node given */
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: quorumctl [options] COMMAND [ARGS]\n"
"commands:\n"
"  put KEY [VALUE]     write VALUE (or -f FILE, or stdin) to KEY\n"
"  get KEY             print KEY's value; siblings: each with its metadata\n"
"  head KEY            print KEY's versions without reading data\n"
"  delete KEY          delete what KEY holds now\n"
"  ls [-l] PATH        list the children of directory PATH\n"
"  conflicts [PATH]    list every file under directory PATH (default /)\n"
"                      with concurrent versions, as quorumfs shows them\n"
"  status | members   members, their state (up, suspect, down) and phi as\n"
"                      the answering node sees them, ring ownership, ring\n"
"                      state (joining, normal, leaving, left) and transfers\n"
"  df                  each member's disk (as last gossiped) and what the\n"
"                      cluster can still take: what df on the mount shows\n"
"  join ID@H:P[/RACK]  add a member; it pulls its ranges, then is normal\n"
"                      (or start quorumd --seeds, which asks the same);\n"
"                      for a member that is leaving: cancel its leave\n"
"  leave ID            decommission a member: its ranges go to their new\n"
"                      owners, then it is left and can be stopped; for a\n"
"                      member that is joining: cancel its join\n"
"  check-replicas      scan every member's store and check that each key\n"
"                      is on all N members of its preference list\n"
"  cleanup             each member in turn (or the --node given) hands the\n"
"                      keys it no longer owns to their owners, then drops\n"
"                      its copies; refused during a membership change\n"
"  stats               counters and latency percentiles of every node\n"
"  dump                every key each node given holds in its own store,\n"
"                      with its record digest and versions (no quorum)\n"
"  repair [PEER]       run anti-entropy now on each node given (with PEER,\n"
"                      or with every member that is up); print a summary\n"
"  wait                wait until every node answers (see --wait)\n"
"  bench ...           load generator: quorumctl bench --help\n"
"options:\n"
"  --nodes H:P,...     nodes to talk to (default $QUORUM_NODES or\n"
"                      127.0.0.1:7001)\n"
"  --node H:P          the same, one node\n"
"  --r R, --w W        read and write quorums for this request\n"
"  --timeout-ms MS     request timeout (default 5000)\n"
"  --context HEX|@FILE write against this context (default: read it first)\n"
"  --blind             write with the empty context (replace nothing)\n"
"  --strict            count only the key's home replicas toward W\n"
"                      (no stand-ins holding hints)\n"
"  --context-out FILE  save the context of a get/put/delete to FILE\n"
"  --request-id ID     put/delete: the write's request id (a number,\n"
"                      not 0), so a script can send it again safely\n"
"  --retry             put/delete: this is such a second send\n"
"  --siblings-dir DIR  get: also write each sibling to DIR/sibling-N\n"
"  -f, --file FILE     put: read the value from FILE ('-': stdin)\n"
"  --wait SECONDS      wait: how long (default 30)\n"
"  --tls-ca FILE, --tls-cert FILE, --tls-key FILE\n"
"                      TLS with the cluster CA, a client certificate and\n"
"                      its key (default $QUORUM_TLS_CA, $QUORUM_TLS_CERT,\n"
"                      $QUORUM_TLS_KEY; none: plain TCP); join, leave,\n"
"                      cleanup, repair, check-replicas and dump need a\n"
"                      node certificate\n"
"exit status: 0 ok, 1 error, 2 usage, 3 absent, 4 siblings, 5 cluster "
"unavailable\n");
}

static int
exit_for(int code)
{
	switch (code) {
	case QERR_QUORUM:
	case QERR_TIMEOUT:
	case QERR_UNAVAIL:
		return EXIT_CLUSTER;
	case QERR_INVALID:
	case QERR_TOO_BIG:
		return EXIT_ERROR;
	default:
		return EXIT_ERROR;
	}
}

static int
fail(int code, const char *what, char *err)
{
	fprintf(stderr, "quorumctl: %s: %s (%s)\n", what,
	    err ? err : "failed", qerr_name(code));
	free(err);
	return exit_for(code);
}

/* ---- contexts as hex ---- */

static char *
hex_encode(const uint8_t *p, size_t n)
{
	char *s = xmalloc(n * 2 + 1);
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(s + i * 2, "%02x", p[i]);
	s[n * 2] = '\0';
	return s;
}

static int
hex_decode(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), i;
	uint8_t *p;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	if (n % 2 != 0)
		return -1;
	p = xmalloc(n / 2 + 1);
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + i * 2, "%2x", &v) != 1) {
			free(p);
			return -1;
		}
		p[i] = (uint8_t)v;
	}
	*out = p;
	*len = n / 2;
	return 0;
}

static int
read_file(const char *path, uint8_t **out, size_t *len, char **err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, r;
	uint8_t *buf;

	if (f == NULL)
		return qerr_set(err, QERR_IO, "%s: %s", path, strerror(errno));
	buf = xmalloc(cap);
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	if (ferror(f)) {
		free(buf);
		if (f != stdin)
			fclose(f);
		return qerr_set(err, QERR_IO, "%s: read error", path);
	}
	if (f != stdin)
		fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static int
context_from_arg(const char *arg, uint8_t **out, size_t *len, char **err)
{
	uint8_t *file = NULL;
	size_t flen;
	int rc;

	if (arg[0] == '@') {
		if ((rc = read_file(arg + 1, &file, &flen, err)) < 0)
			return rc;
		file = xrealloc(file, flen + 1);
		file[flen] = '\0';
		arg = (const char *)file;
	}
	rc = hex_decode(arg, out, len);
	free(file);
	return rc < 0 ? qerr_set(err, QERR_INVALID, "--context is not hex") : 0;
}

static void
context_save(const struct ctl *c, const uint8_t *ctx, size_t len)
{
	char *hex;
	FILE *f;

	if (c->context_out == NULL)
		return;
	hex = hex_encode(ctx, len);
	f = fopen(c->context_out, "w");
	if (f == NULL || fprintf(f, "%s\n", hex) < 0)
		fprintf(stderr, "quorumctl: %s: %s\n", c->context_out,
		    strerror(errno));
	if (f != NULL)
		fclose(f);
	free(hex);
}

static void
print_version_header(FILE *f, const struct version *v, size_t i, size_t n)
{
	char when[64];
	time_t t = (time_t)(v->ts_us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "--- version %zu of %zu: %s:%" PRIu64 " written %s, %s",
	    i + 1, n, v->dot.node, v->dot.counter, when,
	    v->tombstone ? "deleted" : "");
	if (!v->tombstone)
		fprintf(f, "%zu bytes", v->data_len);
	fprintf(f, ", %zu bytes of metadata\n", v->meta_len);
}

/* ---- commands ---- */

static int
cmd_get(struct ctl *c, const char *key, int want_data)
{
	struct qc_value v;
	char *err = NULL;
	size_t i, live, k = 0;
	int rc;

	rc = qc_get(c->qc, key, 0, want_data, &v, &err);
	if (rc < 0)
		return fail(rc, key, err);
	context_save(c, v.context, v.context_len);
	live = vset_live_count(&v.versions);
	if (!want_data) {
		for (i = 0; i < v.versions.n; i++)
			print_version_header(stdout, &v.versions.v[i], i,
			    v.versions.n);
		rc = live == 0 ? EXIT_ABSENT : live > 1 ? EXIT_CONFLICT : 0;
		qc_value_release(&v);
		return rc;
	}
	if (live == 0) {
		fprintf(stderr, "quorumctl: %s: %s\n", key, rc == 0 ?
		    "no such key" : "deleted");
		qc_value_release(&v);
		return EXIT_ABSENT;
	}
	for (i = 0; i < v.versions.n; i++) {
		const struct version *ver = &v.versions.v[i];

		if (ver->tombstone)
			continue;
		k++;
		if (live > 1)
			print_version_header(stdout, ver, k - 1, live);
		fwrite(ver->data, 1, ver->data_len, stdout);
		if (live > 1)
			fputc('\n', stdout);
		if (c->siblings_dir != NULL && live > 1) {
			char path[4096];
			FILE *f;

			mkdir(c->siblings_dir, 0755);
			snprintf(path, sizeof(path), "%s/sibling-%zu",
			    c->siblings_dir, k);
			f = fopen(path, "wb");
			if (f == NULL || fwrite(ver->data, 1, ver->data_len,
			    f) != ver->data_len)
				fprintf(stderr, "quorumctl: %s: %s\n", path,
				    strerror(errno));
			if (f != NULL)
				fclose(f);
		}
	}
	if (live > 1)
		fprintf(stderr, "quorumctl: %s has %zu concurrent versions "
		    "(siblings)\n", key, live);
	qc_value_release(&v);
	return live > 1 ? EXIT_CONFLICT : 0;
}

/* The context a write uses: given, empty (--blind), or read now. */
static int
write_context(struct ctl *c, const char *key, uint8_t **ctx, size_t *len,
    char **err)
{
	struct qc_value v;
	int rc;

	*ctx = NULL;
	*len = 0;
	if (c->blind)
		return 0;
	if (c->context_arg != NULL)
		return context_from_arg(c->context_arg, ctx, len, err);
	if ((rc = qc_get(c->qc, key, 0, 0, &v, err)) < 0)
		return rc;
	*ctx = v.context;
	*len = v.context_len;
	v.context = NULL;
	qc_value_release(&v);
	return 0;
}

/*
 * A write failed after its version d was named: it may exist.  Say so,
 * and save (--context-out) the context the write sent plus d, so that the
 * next write given it replaces the failed one rather than sitting beside
 * it as a sibling.
 */
static void
failed_write_note(const struct ctl *c, const uint8_t *ctx, size_t clen,
    const struct dot *d)
{
	struct cc cc;
	uint8_t *bytes;
	size_t len;

	fprintf(stderr, "quorumctl: the failed write's version is %s:%" PRIu64
	    "; it may exist on the replicas that synced it\n", d->node,
	    d->counter);
	if (c->context_out == NULL)
		return;
	if (context_decode(ctx, clen, &cc, NULL) < 0)
		cc_init(&cc);
	cc_add(&cc, d->node, d->counter);
	context_encode(&cc, &bytes, &len);
	context_save(c, bytes, len);
	free(bytes);
	cc_release(&cc);
}

static int
cmd_put(struct ctl *c, const char *key, const char *value, int tombstone)
{
	struct qc_write w;
	struct qc_written out;
	uint8_t *data = NULL, *ctx = NULL;
	size_t dlen = 0, clen = 0;
	char *err = NULL;
	int rc;

	memset(&w, 0, sizeof(w));
	if (!tombstone) {
		if (value != NULL) {
			data = (uint8_t *)xstrdup(value);
			dlen = strlen(value);
		} else if ((rc = read_file(c->file ? c->file : "-", &data,
		    &dlen, &err)) < 0)
			return fail(rc, "value", err);
	}
	if ((rc = write_context(c, key, &ctx, &clen, &err)) < 0) {
		free(data);
		return fail(rc, key, err);
	}
	w.context = ctx;
	w.context_len = clen;
	w.strict = c->strict;
	w.request_id = c->request_id;
	w.retry = c->retry;
	w.data = data;
	w.data_len = dlen;
	rc = tombstone ? qc_delete(c->qc, key, &w, &out, &err) :
	    qc_put(c->qc, key, &w, &out, &err);
	free(data);
	if (rc < 0 && out.dot.node != NULL)
		failed_write_note(c, ctx, clen, &out.dot);
	free(ctx);
	if (rc < 0) {
		qc_written_release(&out);
		return fail(rc, key, err);
	}
	context_save(c, out.context, out.context_len);
	qc_written_release(&out);
	return 0;
}

struct ls_state {
	int		 long_list;
	unsigned long	 count;
	char		*last;
};

static int
ls_entry(void *arg, const char *name, const struct vset *s,
    const uint8_t *ctx, size_t ctx_len)
{
	struct ls_state *ls = arg;
	size_t live = vset_live_count(s), i;

	(void)ctx;
	(void)ctx_len;
	free(ls->last);
	ls->last = xstrdup(name);
	if (live == 0)
		return 0;
	ls->count++;
	if (!ls->long_list) {
		printf("%s\n", name);
		return 0;
	}
	for (i = 0; i < s->n && s->v[i].tombstone; i++)
		;
	printf("%10zu  %s%s", s->v[i].data_len, name, live > 1 ? "" : "\n");
	if (live > 1)
		printf("  (%zu siblings)\n", live);
	return 0;
}

static int
cmd_ls(struct ctl *c, const char *dir)
{
	struct ls_state ls = { c->long_list, 0, NULL };
	char *err = NULL;
	int more = 1, rc;

	while (more) {
		rc = qc_list(c->qc, dir, ls.last, 0, 0, ls_entry, &ls, &more,
		    &err);
		if (rc < 0) {
			free(ls.last);
			return fail(rc, dir, err);
		}
	}
	free(ls.last);
	return 0;
}

/* ---- conflicts: what quorumfs shows as name.~sibling-N ---- */

struct conflicts_state {
	const char	*dir;
	char		*last;
	char	       **subdirs, **recheck;
	size_t		 nsubdirs, nrecheck;
	unsigned long	 found;
};

static char *
path_join(const char *dir, const char *name)
{
	char *p = xmalloc(strlen(dir) + strlen(name) + 2);

	sprintf(p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
	return p;
}

static void
strv_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

/* One key's view: count it if in conflict, note it if a directory. */
static void
conflicts_view(struct conflicts_state *st, const char *name,
    const struct vset *s, int recheck_allowed)
{
	struct sib_view sv;
	char *path;

	sib_view_build(s, NULL, 0, 0, &sv);
	if (sv.uncertain && recheck_allowed)
		strv_add(&st->recheck, &st->nrecheck, name);
	else if (sv.n > 0 && sv.e[0].meta.type == META_DIR)
		strv_add(&st->subdirs, &st->nsubdirs, name);
	else if (sv.n > 1) {
		path = path_join(st->dir, name);
		printf("%s\t%zu versions\n", path, sv.n);
		free(path);
		st->found++;
	}
	sib_view_release(&sv);
}

static int
conflicts_entry(void *arg, const char *name, const struct vset *s,
    const uint8_t *ctx, size_t ctx_len)
{
	struct conflicts_state *st = arg;

	(void)ctx;
	(void)ctx_len;
	free(st->last);
	st->last = xstrdup(name);
	if (vset_live_count(s) > 0)
		conflicts_view(st, name, s, 1);
	return 0;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* List dir's conflicted files, then its subdirectories' (depth first). */
static int
conflicts_dir(struct ctl *c, const char *dir, unsigned long *found)
{
	struct conflicts_state st;
	char *err = NULL;
	size_t i;
	int more = 1, rc = 0;

	memset(&st, 0, sizeof(st));
	st.dir = dir;
	while (more && rc == 0)
		rc = qc_list(c->qc, dir, st.last, 0, 0, conflicts_entry, &st,
		    &more, &err);
	/* Versions alike but for their data: read them to compare. */
	for (i = 0; i < st.nrecheck && rc == 0; i++) {
		struct qc_value v;
		char *key = path_join(dir, st.recheck[i]);

		if ((rc = qc_get(c->qc, key, 0, 1, &v, &err)) >= 0) {
			conflicts_view(&st, st.recheck[i], &v.versions, 0);
			qc_value_release(&v);
			rc = 0;
		}
		free(key);
	}
	for (i = 0; i < st.nsubdirs && rc == 0; i++) {
		char *sub = path_join(dir, st.subdirs[i]);

		rc = conflicts_dir(c, sub, found);
		free(sub);
	}
	*found += st.found;
	free(st.last);
	strv_free(st.subdirs, st.nsubdirs);
	strv_free(st.recheck, st.nrecheck);
	if (rc < 0 && err != NULL)
		return fail(rc, dir, err);
	return rc < 0 ? EXIT_ERROR : 0;
}

static int
cmd_conflicts(struct ctl *c, const char *dir)
{
	unsigned long found = 0;
	int rc = conflicts_dir(c, dir, &found);

	if (rc != 0)
		return rc;
	return found ? EXIT_CONFLICT : 0;
}

/* bytes as df -h writes them: 1023, 1.0K, 12M, 3.4G... (powers of 1024). */
static const char *
human_bytes(uint64_t v, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, size, "%" PRIu64, v);
		return buf;
	}
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(buf, size, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
	return buf;
}

/*
 * The disks under the members' data directories as they last gossiped
 * them, and what the cluster can still take (client/capacity.h).
 */
static void
print_disks(const Quorum__RingResponse *r)
{
	struct qc_capacity cap;
	char a[16], b[16];
	size_t i, j;

	qc_capacity_of(r, &cap);
	printf("%-12s %8s %8s %s\n", "member", "avail", "size",
	    "same file system as");
	for (i = 0; i < r->n_members; i++) {
		const Quorum__RingResponse__Member *m = r->members[i];
		int shared = 0;

		if (m->disk_id == 0) {
			printf("%-12s %8s %8s (not reported)\n", m->id, "-",
			    "-");
			continue;
		}
		printf("%-12s %8s %8s", m->id, human_bytes(m->disk_avail, a,
		    sizeof(a)), human_bytes(m->disk_bytes, b, sizeof(b)));
		for (j = 0; j < r->n_members; j++)
			if (j != i && r->members[j]->disk_id == m->disk_id) {
				printf(" %s", r->members[j]->id);
				shared = 1;
			}
		printf("%s\n", shared ? "" : " -");
	}
	if (cap.filesystems == 0) {
		printf("capacity: unknown (no member reported its disk)\n");
		return;
	}
	printf("capacity for new data: %s available of %s (each byte on n=%u "
	    "replicas; %u file system%s, each counted once)%s\n",
	    human_bytes(cap.avail, a, sizeof(a)), human_bytes(cap.bytes, b,
	    sizeof(b)), r->n, cap.filesystems, cap.filesystems == 1 ? "" :
	    "s", cap.known < cap.members ? "; at most: some members did "
	    "not report" : "");
}

static int
cmd_status(struct ctl *c)
{
	Quorum__Envelope *reply;
	Quorum__RingResponse *r;
	char *err = NULL;
	size_t i;
	int rc;

	if ((rc = qc_ring(c->qc, -1, &reply, &err)) < 0)
		return fail(rc, "status", err);
	r = reply->ring_response;
	printf("cluster %s, as seen by %s: %zu members, n=%u r=%u w=%u, "
	    "%u vnodes each, member list v%" PRIu64 "\n", r->cluster, r->node,
	    r->n_members, r->n, r->r, r->w, r->vnodes, r->version);
	printf("%-12s %-22s %-8s %-8s %6s %-9s %9s %9s %-18s %-8s %s\n",
	    "member", "address", "rack", "state", "phi", "connected",
	    "primary", "replicas", "generation", "ring", "transfer");
	for (i = 0; i < r->n_members; i++) {
		Quorum__RingResponse__Member *m = r->members[i];

		char transfer[96] = "-";

		if (m->ranges_total > 0)
			snprintf(transfer, sizeof(transfer), "%u/%u ranges, "
			    "%" PRIu64 " keys%s", m->ranges_done,
			    m->ranges_total, m->keys_moved, m->synced ?
			    ", done" : "");
		printf("%-12s %-22s %-8s %-8s %6.1f %-9s %8.1f%% %8.1f%% "
		    "%-18" PRIu64 " %-8s %s\n", m->id, m->address,
		    m->rack[0] ? m->rack : "-", m->state[0] ? m->state : "?",
		    m->phi, m->reachable ? "yes" : "no",
		    m->primary_share * 100, m->replica_share * 100,
		    m->generation, m->ring_state && m->ring_state[0] ?
		    m->ring_state : "normal", transfer);
	}
	qc_reply_free(reply);
	return 0;
}

static int
cmd_df(struct ctl *c)
{
	Quorum__Envelope *reply;
	char *err = NULL;
	int rc;

	if ((rc = qc_ring(c->qc, -1, &reply, &err)) < 0)
		return fail(rc, "df", err);
	print_disks(reply->ring_response);
	qc_reply_free(reply);
	return 0;
}

/* ---- membership changes ---- */

static void
print_ring_entries(Quorum__RingEntry **e, size_t n)
{
	static const char *names[] = { "?", "joining", "normal", "leaving",
	    "left" };
	size_t i;

	for (i = 0; i < n; i++)
		printf("  %-12s %-22s %-8s %s\n", e[i]->id, e[i]->address,
		    e[i]->rack[0] ? e[i]->rack : "-",
		    (unsigned)e[i]->state < 5 ? names[e[i]->state] : "?");
}

static int
cmd_join(struct ctl *c, const char *spec)
{
	Quorum__Envelope env, *reply;
	Quorum__JoinRequest jr;
	char *copy = xstrdup(spec), *at, *slash, *err = NULL;
	int rc;

	if ((at = strchr(copy, '@')) == NULL || at == copy) {
		fprintf(stderr, "quorumctl: join: \"%s\" is not "
		    "ID@HOST:PORT[/RACK]\n", spec);
		free(copy);
		return EXIT_USAGE;
	}
	*at = '\0';
	if ((slash = strchr(at + 1, '/')) != NULL)
		*slash = '\0';
	quorum__envelope__init(&env);
	quorum__join_request__init(&jr);
	jr.id = copy;
	jr.address = at + 1;
	jr.rack = slash ? slash + 1 : (char *)"";
	env.body_case = QUORUM__ENVELOPE__BODY_JOIN_REQUEST;
	env.join_request = &jr;
	rc = qc_request(c->qc, -1, &env, &reply, &err);
	if (rc < 0) {
		rc = fail(rc, "join", err);
		free(copy);
		return rc;
	}
	if (reply->body_case == QUORUM__ENVELOPE__BODY_MEMBERSHIP_RESPONSE) {
		Quorum__MembershipResponse *mr = reply->membership_response;
		size_t i;

		for (i = 0; i < mr->n_ring; i++)
			if (strcmp(mr->ring[i]->id, copy) == 0 &&
			    mr->ring[i]->state == QUORUM__RING_ENTRY__STATE__NORMAL)
				break;
		if (i < mr->n_ring)
			printf("%s stays: its leave is cancelled.  Members:\n",
			    copy);
		else
			printf("%s joins; start it with quorumd --seeds (any "
			    "member) if it is not running.  Members:\n", copy);
		print_ring_entries(mr->ring, mr->n_ring);
	}
	qc_reply_free(reply);
	free(copy);
	return 0;
}

static int
cmd_leave(struct ctl *c, const char *id)
{
	Quorum__Envelope env, *reply;
	Quorum__LeaveRequest lr;
	char *err = NULL;
	int rc;

	quorum__envelope__init(&env);
	quorum__leave_request__init(&lr);
	lr.id = (char *)id;
	env.body_case = QUORUM__ENVELOPE__BODY_LEAVE_REQUEST;
	env.leave_request = &lr;
	if ((rc = qc_request(c->qc, -1, &env, &reply, &err)) < 0)
		return fail(rc, "leave", err);
	printf("%s leaves: its ranges move to their new owners; once it "
	    "shows as left (quorumctl members) it can be stopped.  "
	    "Members:\n", id);
	if (reply->body_case == QUORUM__ENVELOPE__BODY_MEMBERSHIP_RESPONSE)
		print_ring_entries(reply->membership_response->ring,
		    reply->membership_response->n_ring);
	qc_reply_free(reply);
	return 0;
}

/*
 * check-replicas: every key any member holds must be held by every member
 * of its preference list in the read ring (built here as quorumd builds
 * it, from the answering node's member list).  Replicas whose versions
 * differ and copies outside the preference list (old owners keep theirs)
 * are counted, not failures.
 */
struct held {
	char		*key;
	uint32_t	 member;
	struct vset	 s;
};

static int
held_compare(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int k = strcmp(x->key, y->key);

	return k ? k : (x->member > y->member) - (x->member < y->member);
}

static int
scan_member(struct ctl *c, struct qc *qc, int node, uint32_t member,
    struct held **h, size_t *nh, size_t *cap, char **err)
{
	char *after = xstrdup("");
	int rc = 0, more = 1;

	while (more) {
		Quorum__Envelope env, *reply;
		Quorum__KeyStatesRequest kr;
		size_t i;

		quorum__envelope__init(&env);
		quorum__key_states_request__init(&kr);
		kr.lo = 0;
		kr.hi = UINT64_MAX;
		kr.after = after;
		kr.limit = 1000;
		env.body_case = QUORUM__ENVELOPE__BODY_KEY_STATES_REQUEST;
		env.key_states_request = &kr;
		if ((rc = qc_request(qc, node, &env, &reply, err)) < 0)
			break;
		if (reply->body_case != QUORUM__ENVELOPE__BODY_KEY_STATES) {
			qc_reply_free(reply);
			rc = qerr_set(err, QERR_PROTO, "unexpected answer");
			break;
		}
		for (i = 0; i < reply->key_states->n_states && rc == 0; i++) {
			Quorum__KeyState *ks = reply->key_states->states[i];
			struct held *e;

			if (*nh == *cap) {	/* doubling: a scan is millions */
				*cap = *cap ? 2 * *cap : 1024;
				*h = xreallocarray(*h, *cap, sizeof(**h));
			}
			e = &(*h)[*nh];
			if ((rc = wire_vset_from_pb(ks->versions, &e->s,
			    err)) < 0)
				break;
			e->key = xstrdup(ks->key);
			e->member = member;
			(*nh)++;
			free(after);
			after = xstrdup(ks->key);
		}
		more = reply->key_states->more && reply->key_states->n_states;
		qc_reply_free(reply);
		if (rc < 0)
			break;
	}
	free(after);
	(void)c;
	return rc;
}

static int
cmd_check_replicas(struct ctl *c)
{
	Quorum__Envelope *reply;
	Quorum__RingResponse *rr;
	struct ring_member *rm = NULL;
	struct ring ring;
	struct qc_options o = c->opt;
	struct qc *qc = NULL;
	struct held *h = NULL;
	size_t nh = 0, cap = 0, i, j, k, nkeys = 0, missing = 0,
	    missing_keys = 0, differ = 0, extra = 0, shown = 0;
	char *addrs = NULL, *joined, *err = NULL;
	int rc, status = 0, changing = 0;

	if ((rc = qc_ring(c->qc, -1, &reply, &err)) < 0)
		return fail(rc, "check-replicas", err);
	rr = reply->ring_response;
	rm = xcalloc(rr->n_members + 1, sizeof(*rm));
	for (i = 0; i < rr->n_members; i++) {
		const char *st = rr->members[i]->ring_state;

		rm[i].id = rr->members[i]->id;
		rm[i].rack = rr->members[i]->rack;
		rm[i].passive = st[0] != '\0' && strcmp(st, "normal") != 0 &&
		    strcmp(st, "leaving") != 0;
		changing |= strcmp(st, "joining") == 0 ||
		    strcmp(st, "leaving") == 0;
		if (asprintf(&joined, "%s%s%s", addrs ? addrs : "",
		    addrs ? "," : "", rr->members[i]->address) < 0)
			abort();
		free(addrs);
		addrs = joined;
	}
	if ((rc = ring_build_ordered(&ring, rm, rr->n_members, rr->vnodes,
	    rr->n, &err)) < 0) {
		free(rm);
		free(addrs);
		qc_reply_free(reply);
		return fail(rc, "check-replicas", err);
	}
	if (changing)
		printf("check-replicas: a membership change is under way; "
		    "checking against the current owners\n");
	o.nodes = addrs;
	if ((rc = qc_open(&o, &qc, &err)) < 0) {
		status = fail(rc, "check-replicas", err);
		goto out;
	}
	for (i = 0; i < rr->n_members; i++) {
		if (strcmp(rr->members[i]->ring_state, "left") == 0)
			continue;
		if ((rc = scan_member(c, qc, (int)i, (uint32_t)i, &h, &nh,
		    &cap, &err)) < 0) {
			status = fail(rc, rr->members[i]->id, err);
			goto out;
		}
	}
	if (nh > 0)
		qsort(h, nh, sizeof(*h), held_compare);
	for (i = 0; i < nh; i = j) {
		uint32_t pref[RING_MAX_N];
		unsigned np, p;
		int miss = 0;
		const struct vset *first = NULL;

		for (j = i; j < nh && strcmp(h[j].key, h[i].key) == 0; j++)
			;
		nkeys++;
		np = ring_preference_list(&ring, key_hash(h[i].key,
		    strlen(h[i].key)), pref);
		for (p = 0; p < np; p++) {
			for (k = i; k < j && h[k].member != pref[p]; k++)
				;
			if (k == j) {
				missing++;
				if (!miss && shown++ < 10)
					printf("missing: %s is not on %s\n",
					    h[i].key, ring.members[pref[p]].id);
				miss = 1;
			} else if (first == NULL)
				first = &h[k].s;
			else if (!vset_equal(first, &h[k].s)) {
				differ++;
				first = &h[k].s;	/* count each once */
			}
		}
		missing_keys += miss;
		for (k = i; k < j; k++) {
			for (p = 0; p < np && pref[p] != h[k].member; p++)
				;
			extra += p == np;
		}
	}
	printf("check-replicas: %zu keys, n=%u: %zu missing replicas (%zu "
	    "keys), %zu differing replicas, %zu copies outside the "
	    "preference lists\n", nkeys, rr->n, missing, missing_keys, differ,
	    extra);
	if (missing > 0)
		status = EXIT_ERROR;
out:
	for (i = 0; i < nh; i++) {
		free(h[i].key);
		vset_release(&h[i].s);
	}
	free(h);
	qc_close(qc);
	ring_release(&ring);
	free(rm);
	free(addrs);
	qc_reply_free(reply);
	return status;
}

static int
cmd_stats(struct ctl *c)
{
	size_t i, k, b;
	int status = 0;

	for (i = 0; i < qc_node_count(c->qc); i++) {
		Quorum__Envelope env, *reply;
		Quorum__StatsRequest sr;
		Quorum__StatsResponse *s;
		char *err = NULL;
		int rc;

		quorum__envelope__init(&env);
		quorum__stats_request__init(&sr);
		sr.prefix = (char *)"";
		env.body_case = QUORUM__ENVELOPE__BODY_STATS_REQUEST;
		env.stats_request = &sr;
		if ((rc = qc_request(c->qc, (int)i, &env, &reply, &err)) < 0) {
			status = fail(rc, qc_node_addr(c->qc, i), err);
			continue;
		}
		s = reply->stats_response;
		printf("node %s\n", qc_node_addr(c->qc, i));
		for (k = 0; s != NULL && k < s->n_counters; k++)
			printf("  %-24s %" PRIu64 "\n", s->counters[k]->name,
			    s->counters[k]->value);
		for (k = 0; s != NULL && k < s->n_histograms; k++) {
			Quorum__Histogram *h = s->histograms[k];
			uint64_t total = 0, seen = 0, p50 = 0, p99 = 0;

			for (b = 0; b < h->n_counts; b++)
				total += h->counts[b];
			for (b = 0; b < h->n_counts && total > 0; b++) {
				uint64_t bound = b < h->n_bounds ?
				    h->bounds[b] : UINT64_MAX;

				seen += h->counts[b];
				if (p50 == 0 && seen * 2 >= total)
					p50 = bound;
				if (p99 == 0 && seen * 100 >= total * 99)
					p99 = bound;
			}
			printf("  %-24s n=%" PRIu64 " p50<=%" PRIu64 "us "
			    "p99<=%" PRIu64 "us\n", h->name, total, p50, p99);
		}
		qc_reply_free(reply);
	}
	return status;
}

/*
 * What one node holds, read from its own store (not a quorum read): a
 * line per key - its record digest (equal on replicas that agree), the
 * key, and its versions (node:counter, "tombstone" or the data length).
 */
static int
cmd_dump(struct ctl *c)
{
	size_t i;
	int status = 0;

	for (i = 0; i < qc_node_count(c->qc); i++) {
		char *after = xstrdup("");
		int more = 1;

		while (more) {
			Quorum__Envelope env, *reply;
			Quorum__KeyStatesRequest kr;
			char *err = NULL;
			size_t k, v;
			int rc;

			quorum__envelope__init(&env);
			quorum__key_states_request__init(&kr);
			kr.lo = 0;
			kr.hi = UINT64_MAX;
			kr.after = after;
			kr.limit = 1024;
			env.body_case =
			    QUORUM__ENVELOPE__BODY_KEY_STATES_REQUEST;
			env.key_states_request = &kr;
			if ((rc = qc_request(c->qc, (int)i, &env, &reply,
			    &err)) < 0) {
				status = fail(rc, qc_node_addr(c->qc, i), err);
				break;
			}
			more = reply->key_states->more &&
			    reply->key_states->n_states > 0;
			for (k = 0; k < reply->key_states->n_states; k++) {
				const Quorum__KeyState *ks =
				    reply->key_states->states[k];
				struct vset s;

				if (wire_vset_from_pb(ks->versions, &s,
				    &err) < 0) {
					status = fail(QERR_CORRUPT, ks->key,
					    err);
					err = NULL;
					continue;
				}
				printf("%s %016" PRIx64 " %s", qc_node_addr(c->qc,
				    i), record_digest(ks->key, strlen(ks->key),
				    &s), ks->key);
				for (v = 0; v < s.n; v++) {
					printf(" %s:%" PRIu64 "=", s.v[v].dot.node,
					    s.v[v].dot.counter);
					if (s.v[v].tombstone)
						printf("tombstone");
					else
						printf("%zu", s.v[v].data_len);
				}
				printf("\n");
				vset_release(&s);
				free(after);
				after = xstrdup(ks->key);
			}
			qc_reply_free(reply);
		}
		free(after);
	}
	return status;
}

/*
 * cleanup: the --node given, or every member that has not left (as the
 * first node that answers lists them), one after the other: a node
 * reads, pushes and removes on its own, so one at a time keeps the load
 * on the owners to one stream.
 */
static int
cmd_cleanup(struct ctl *c)
{
	Quorum__Envelope *ring = NULL;
	struct qc_options o = c->opt;
	struct qc *qc = NULL;
	char *addrs = NULL, *joined, *err = NULL;
	size_t i;
	int rc, status = 0;
	uint64_t scanned = 0, handed = 0, removed = 0, skipped = 0;

	if (!c->one_node) {
		Quorum__RingResponse *rr;

		if ((rc = qc_ring(c->qc, -1, &ring, &err)) < 0)
			return fail(rc, "cleanup", err);
		rr = ring->ring_response;
		for (i = 0; i < rr->n_members; i++) {
			if (strcmp(rr->members[i]->ring_state, "left") == 0)
				continue;
			if (asprintf(&joined, "%s%s%s", addrs ? addrs : "",
			    addrs ? "," : "", rr->members[i]->address) < 0)
				abort();
			free(addrs);
			addrs = joined;
		}
		qc_reply_free(ring);
		o.nodes = addrs;
	}
	/* A run takes as long as its keys take: wait long for the answer. */
	o.timeout_ms = c->opt.timeout_ms ? c->opt.timeout_ms * 60 : 600000;
	if ((rc = qc_open(&o, &qc, &err)) < 0) {
		free(addrs);
		return fail(rc, "nodes", err);
	}
	for (i = 0; i < qc_node_count(qc); i++) {
		Quorum__Envelope env, *reply;
		Quorum__CleanupRequest cr;
		Quorum__CleanupResponse *r;

		quorum__envelope__init(&env);
		quorum__cleanup_request__init(&cr);
		env.body_case = QUORUM__ENVELOPE__BODY_CLEANUP_REQUEST;
		env.cleanup_request = &cr;
		printf("cleanup %zu/%zu: %s ...", i + 1, qc_node_count(qc),
		    qc_node_addr(qc, i));
		fflush(stdout);
		if ((rc = qc_request(qc, (int)i, &env, &reply, &err)) < 0) {
			printf(" refused\n");
			fflush(stdout);
			status = fail(rc, qc_node_addr(qc, i), err);
			err = NULL;
			continue;
		}
		if (reply->body_case != QUORUM__ENVELOPE__BODY_CLEANUP_RESPONSE) {
			printf(" failed\n");
			qc_reply_free(reply);
			status = fail(QERR_PROTO, qc_node_addr(qc, i),
			    xstrdup("unexpected answer"));
			continue;
		}
		r = reply->cleanup_response;
		printf(" %" PRIu64 " keys not owned, %" PRIu64 " handed off, %"
		    PRIu64 " removed, %" PRIu64 " skipped, %" PRIu64 " bytes, %"
		    PRIu64 " ms%s%s\n", r->keys_scanned, r->keys_handed_off,
		    r->keys_removed, r->keys_skipped, r->bytes_sent,
		    r->elapsed_ms, r->error[0] ? "; " : "", r->error);
		scanned += r->keys_scanned;
		handed += r->keys_handed_off;
		removed += r->keys_removed;
		skipped += r->keys_skipped;
		if (r->error[0] != '\0' || r->keys_skipped > 0)
			status = EXIT_CLUSTER;
		qc_reply_free(reply);
	}
	printf("cleanup: %" PRIu64 " keys scanned, %" PRIu64 " handed off, %"
	    PRIu64 " removed, %" PRIu64 " skipped\n", scanned, handed,
	    removed, skipped);
	qc_close(qc);
	free(addrs);
	return status;
}

/* Anti-entropy now on each node given, one after the other. */
static int
cmd_repair(struct ctl *c, const char *peer)
{
	struct qc_options o = c->opt;
	struct qc *qc;
	char *err = NULL;
	size_t i;
	int rc, status = 0;
	uint64_t repaired = 0, bytes = 0;

	o.timeout_ms = c->opt.timeout_ms ? c->opt.timeout_ms * 60 : 600000;
	if ((rc = qc_open(&o, &qc, &err)) < 0)
		return fail(rc, "nodes", err);
	for (i = 0; i < qc_node_count(qc); i++) {
		Quorum__Envelope env, *reply;
		Quorum__RepairRequest rr;
		Quorum__RepairResponse *r;

		quorum__envelope__init(&env);
		quorum__repair_request__init(&rr);
		rr.peer = (char *)(peer ? peer : "");
		env.body_case = QUORUM__ENVELOPE__BODY_REPAIR_REQUEST;
		env.repair_request = &rr;
		printf("repair %zu/%zu: %s ...", i + 1, qc_node_count(qc),
		    qc_node_addr(qc, i));
		fflush(stdout);
		if ((rc = qc_request(qc, (int)i, &env, &reply, &err)) < 0) {
			printf(" failed\n");
			status = fail(rc, qc_node_addr(qc, i), err);
			err = NULL;
			continue;
		}
		r = reply->repair_response;
		printf(" %u peers, %u of %u ranges differed (%u leaves), "
		    "%" PRIu64 " keys pulled, %" PRIu64 " pushed, %" PRIu64
		    " repaired, %" PRIu64 " bytes%s%s\n", r->peers,
		    r->ranges_differing, r->ranges_compared, r->leaves_differing,
		    r->keys_pulled, r->keys_pushed, r->keys_repaired,
		    r->bytes_sent + r->bytes_received,
		    r->failed_peers ? "; failed: " : "",
		    r->failed_peers ? r->error : "");
		repaired += r->keys_repaired;
		bytes += r->bytes_sent + r->bytes_received;
		if (r->failed_peers)
			status = EXIT_CLUSTER;
		qc_reply_free(reply);
	}
	printf("repair: %" PRIu64 " keys repaired, %" PRIu64 " bytes "
	    "exchanged\n", repaired, bytes);
	qc_close(qc);
	return status;
}

static int
cmd_wait(struct ctl *c)
{
	time_t deadline = time(NULL) + (time_t)c->wait_s;
	size_t i;

	for (;;) {
		size_t up = 0;
		char *err = NULL;

		for (i = 0; i < qc_node_count(c->qc); i++) {
			Quorum__Envelope *reply;

			if (qc_ring(c->qc, (int)i, &reply, &err) == 0) {
				qc_reply_free(reply);
				up++;
			}
			free(err);
			err = NULL;
		}
		if (up == qc_node_count(c->qc))
			return 0;
		if (time(NULL) >= deadline) {
			fprintf(stderr, "quorumctl: wait: %zu of %zu nodes "
			    "answer after %us\n", up, qc_node_count(c->qc),
			    c->wait_s);
			return EXIT_CLUSTER;
		}
		usleep(100000);
	}
}

enum {
	OPT_NODES = 256, OPT_R, OPT_W, OPT_TIMEOUT, OPT_CONTEXT, OPT_BLIND,
	OPT_CONTEXT_OUT, OPT_SIBLINGS_DIR, OPT_WAIT, OPT_STRICT, OPT_NODE,
	OPT_REQUEST_ID, OPT_RETRY, OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY,
};

static const struct option options[] = {
	{ "nodes", required_argument, NULL, OPT_NODES },
	{ "node", required_argument, NULL, OPT_NODE },
	{ "r", required_argument, NULL, OPT_R },
	{ "w", required_argument, NULL, OPT_W },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "context", required_argument, NULL, OPT_CONTEXT },
	{ "blind", no_argument, NULL, OPT_BLIND },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "request-id", required_argument, NULL, OPT_REQUEST_ID },
	{ "retry", no_argument, NULL, OPT_RETRY },
	{ "context-out", required_argument, NULL, OPT_CONTEXT_OUT },
	{ "siblings-dir", required_argument, NULL, OPT_SIBLINGS_DIR },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "file", required_argument, NULL, 'f' },
	{ "long", no_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
parse_count(const char *name, const char *v, unsigned max, unsigned *out)
{
	char *end;
	unsigned long x = strtoul(v, &end, 10);

	if (*v == '\0' || *end != '\0' || x > max || v[0] == '-') {
		fprintf(stderr, "quorumctl: --%s: \"%s\" is not a number from "
		    "0 to %u\n", name, v, max);
		return -1;
	}
	*out = (unsigned)x;
	return 0;
}

/* The TLS files from the environment; options given later win. */
static void
tls_from_env(struct qc_options *o)
{
	o->tls_ca = getenv("QUORUM_TLS_CA");
	o->tls_cert = getenv("QUORUM_TLS_CERT");
	o->tls_key = getenv("QUORUM_TLS_KEY");
}

/*
 * Before "bench" (which parses the rest of the line itself): the nodes
 * and the TLS files, the options every command shares.
 */
static void
shared_options(struct qc_options *o, int argc, char **argv)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} known[] = {
		{ "--nodes", offsetof(struct qc_options, nodes) },
		{ "--node", offsetof(struct qc_options, nodes) },
		{ "--tls-ca", offsetof(struct qc_options, tls_ca) },
		{ "--tls-cert", offsetof(struct qc_options, tls_cert) },
		{ "--tls-key", offsetof(struct qc_options, tls_key) },
	};
	size_t j, len;
	int k;

	for (k = 1; k < argc; k++)
		for (j = 0; j < sizeof(known) / sizeof(known[0]); j++) {
			const char **field = (const char **)(void *)
			    ((char *)o + known[j].off);

			len = strlen(known[j].name);
			if (strncmp(argv[k], known[j].name, len) != 0)
				continue;
			if (argv[k][len] == '=')
				*field = argv[k] + len + 1;
			else if (argv[k][len] == '\0' && k + 1 < argc)
				*field = argv[k + 1];
		}
}

int
main(int argc, char **argv)
{
	struct ctl c;
	const char *cmd;
	char *err = NULL;
	int ch, rc;

	memset(&c, 0, sizeof(c));
	c.opt.nodes = getenv("QUORUM_NODES");
	if (c.opt.nodes == NULL || c.opt.nodes[0] == '\0')
		c.opt.nodes = "127.0.0.1:7001";
	tls_from_env(&c.opt);
	c.wait_s = 30;
	/* "bench" has options of its own: hand it the rest of the line. */
	for (ch = 1; ch < argc; ch++)
		if (strcmp(argv[ch], "bench") == 0)
			break;
	if (ch < argc) {
		shared_options(&c.opt, ch, argv);
		return bench_main(&c.opt, argc - ch, argv + ch);
	}
	while ((ch = getopt_long(argc, argv, "f:lh", options, NULL)) != -1) {
		switch (ch) {
		case OPT_NODES:
			c.opt.nodes = optarg;
			c.one_node = 0;
			break;
		case OPT_NODE:
			c.opt.nodes = optarg;
			c.one_node = 1;
			break;
		case OPT_R:
			if (parse_count("r", optarg, 16, &c.opt.r) < 0)
				return EXIT_USAGE;
			break;
		case OPT_W:
			if (parse_count("w", optarg, 16, &c.opt.w) < 0)
				return EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (parse_count("timeout-ms", optarg, 3600000,
			    &c.opt.timeout_ms) < 0)
				return EXIT_USAGE;
			break;
		case OPT_CONTEXT:
			c.context_arg = optarg;
			break;
		case OPT_BLIND:
			c.blind = 1;
			break;
		case OPT_STRICT:
			c.strict = 1;
			break;
		case OPT_REQUEST_ID: {
			char *end;

			errno = 0;
			c.request_id = strtoull(optarg, &end, 0);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || c.request_id == 0) {
				fprintf(stderr, "quorumctl: --request-id: \"%s\" "
				    "is not a number above 0\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_RETRY:
			c.retry = 1;
			break;
		case OPT_CONTEXT_OUT:
			c.context_out = optarg;
			break;
		case OPT_SIBLINGS_DIR:
			c.siblings_dir = optarg;
			break;
		case OPT_TLS_CA:
			c.opt.tls_ca = optarg;
			break;
		case OPT_TLS_CERT:
			c.opt.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			c.opt.tls_key = optarg;
			break;
		case OPT_WAIT:
			if (parse_count("wait", optarg, 86400, &c.wait_s) < 0)
				return EXIT_USAGE;
			break;
		case 'f':
			c.file = optarg;
			break;
		case 'l':
			c.long_list = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (c.retry && c.request_id == 0) {
		fprintf(stderr, "quorumctl: --retry needs the --request-id of "
		    "the write sent before\n");
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	/* "ls -l PATH": options may follow the command too. */
	while (optind < argc && strcmp(argv[optind], "-l") == 0) {
		c.long_list = 1;
		optind++;
	}
	if ((rc = qc_open(&c.opt, &c.qc, &err)) < 0)
		return fail(rc, "nodes", err);

#define NEED_ARGS(lo, hi) \
	if (argc - optind < (lo) || argc - optind > (hi)) { \
		fprintf(stderr, "quorumctl: %s: wrong number of arguments\n", \
		    cmd); \
		qc_close(c.qc); \
		return EXIT_USAGE; \
	}
	if (strcmp(cmd, "get") == 0) {
		NEED_ARGS(1, 1);
		rc = cmd_get(&c, argv[optind], 1);
	} else if (strcmp(cmd, "head") == 0) {
		NEED_ARGS(1, 1);
		rc = cmd_get(&c, argv[optind], 0);
	} else if (strcmp(cmd, "put") == 0) {
		NEED_ARGS(1, 2);
		rc = cmd_put(&c, argv[optind], argc - optind == 2 ?
		    argv[optind + 1] : NULL, 0);
	} else if (strcmp(cmd, "delete") == 0 || strcmp(cmd, "rm") == 0) {
		NEED_ARGS(1, 1);
		rc = cmd_put(&c, argv[optind], NULL, 1);
	} else if (strcmp(cmd, "ls") == 0) {
		NEED_ARGS(0, 1);
		rc = cmd_ls(&c, optind < argc ? argv[optind] : "/");
	} else if (strcmp(cmd, "conflicts") == 0) {
		NEED_ARGS(0, 1);
		rc = cmd_conflicts(&c, optind < argc ? argv[optind] : "/");
	} else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "ring") == 0 ||
	    strcmp(cmd, "members") == 0) {
		NEED_ARGS(0, 0);
		rc = cmd_status(&c);
	} else if (strcmp(cmd, "df") == 0) {
		NEED_ARGS(0, 0);
		rc = cmd_df(&c);
	} else if (strcmp(cmd, "stats") == 0) {
		NEED_ARGS(0, 0);
		rc = cmd_stats(&c);
	} else if (strcmp(cmd, "dump") == 0) {
		NEED_ARGS(0, 0);
		rc = cmd_dump(&c);
	} else if (strcmp(cmd, "repair") == 0) {
		NEED_ARGS(0, 1);
		rc = cmd_repair(&c, optind < argc ? argv[optind] : NULL);
	} else if (strcmp(cmd, "wait") == 0) {
		NEED_ARGS(0, 0);
		rc = cmd_wait(&c);
	} else if (strcmp(cmd, "join") == 0) {
		NEED_ARGS(1, 1);
		rc = cmd_join(&c, argv[optind]);
	} else if (strcmp(cmd, "leave") == 0) {
		NEED_ARGS(1, 1);
		rc = cmd_leave(&c, argv[optind]);
	} else if (strcmp(cmd, "check-replicas") == 0) {
		NEED_ARGS(0, 0);
		rc = cmd_check_replicas(&c);
	} else if (strcmp(cmd, "cleanup") == 0) {
		NEED_ARGS(0, 0);
		rc = cmd_cleanup(&c);
	} else {
		fprintf(stderr, "quorumctl: unknown command \"%s\"\n", cmd);
		rc = EXIT_USAGE;
	}
	qc_close(c.qc);
	return rc;
}
