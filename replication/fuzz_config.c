/*
 * fuzz_config.c - libFuzzer target for quorumd's configuration parser
 * (config_load_string, the body of config_load_file; config_set; and
 * config_check).
 *
 * The input is a quorumd.conf as an operator might write it.  The contract
 * of config.h, checked on each answer:
 *   - a file loads, or is QERR_INVALID with a message naming the file;
 *   - what loaded round-trips: written back as a file (one key a line,
 *     one member a line) and loaded over the defaults, it gives the same
 *     configuration, and config_check gives both the same answer;
 *   - config_check succeeds, or is QERR_INVALID with a message.
 * Values longer than a line allows, or holding what a key's line would
 * read as a comment, cannot be written back; those are skipped.
 */
#include <ctype.h>
#include <stddef.h>
#define FUZZ_NAME "fuzz-config"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "replication/config.h"
#include "tests/fuzz/fuzz.h"


#define NAME	"fuzz.conf"
#define LINE_MAX_WRITTEN 199	/* config_load_string's limit */

static const struct {
	const char	*key;
	size_t		 off;
} strings[] = {
	{ "id", offsetof(struct config, id) },
	{ "listen", offsetof(struct config, listen) },
	{ "data_dir", offsetof(struct config, data_dir) },
	{ "rack", offsetof(struct config, rack) },
	{ "cluster", offsetof(struct config, cluster) },
	{ "metrics", offsetof(struct config, metrics) },
	{ "pid_file", offsetof(struct config, pid_file) },
	{ "log_level", offsetof(struct config, log_level) },
	{ "tombstone_purge", offsetof(struct config, tombstone_purge) },
	{ "seeds", offsetof(struct config, seeds) },
	{ "tls_ca", offsetof(struct config, tls_ca) },
	{ "tls_cert", offsetof(struct config, tls_cert) },
	{ "tls_key", offsetof(struct config, tls_key) },
};

#define UNS(key, field) { key, offsetof(struct config, field), \
	sizeof(((struct config *)0)->field) }
static const struct {
	const char	*key;
	size_t		 off, size;
} numbers[] = {
	UNS("n", n), UNS("r", r), UNS("w", w), UNS("vnodes", vnodes),
	UNS("timeout_ms", timeout_ms), UNS("disk_threads", disk_threads),
	UNS("max_value_size", max_value_size),
	UNS("gossip_interval_ms", gossip_interval_ms),
	UNS("handoff_interval_ms", handoff_interval_ms),
	UNS("handoff_rate", handoff_rate),
	UNS("max_hint_bytes", max_hint_bytes),
	UNS("ae_interval_ms", ae_interval_ms), UNS("ae_rate", ae_rate),
	UNS("stream_rate", stream_rate),
	UNS("tombstone_min_age_ms", tombstone_min_age_ms),
	UNS("tombstone_grace_ms", tombstone_grace_ms),
	UNS("purge_interval_ms", purge_interval_ms),
	UNS("max_frame", max_frame), UNS("max_key_size", max_key_size),
	UNS("max_clients", max_clients),
	UNS("max_clients_per_host", max_clients_per_host),
	UNS("max_peer_connections", max_peer_connections),
	UNS("max_output", max_output), UNS("max_inflight", max_inflight),
	UNS("frame_timeout_ms", frame_timeout_ms), UNS("min_rate", min_rate),
	UNS("idle_timeout_ms", idle_timeout_ms),
	UNS("max_bad_frames", max_bad_frames),
	UNS("abuse_penalty_ms", abuse_penalty_ms),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *
string_at(const struct config *c, size_t i)
{
	return *(char *const *)((const char *)c + strings[i].off);
}

static unsigned long long
number_at(const struct config *c, size_t i)
{
	const char *p = (const char *)c + numbers[i].off;

	return numbers[i].size == sizeof(unsigned) ? *(const unsigned *)p :
	    (unsigned long long)*(const size_t *)p;
}

/*
 * libinih ends a "key = value" line's value at a ';' after white space (an
 * inline comment), but not an indented continuation line's: a value
 * holding one came from a continuation line, and cannot be written back on
 * a key's line.
 */
static int
has_inline_comment(const char *value)
{
	const char *p;

	for (p = value; (p = strchr(p, ';')) != NULL; p++)
		if (p > value && isspace((unsigned char)p[-1]))
			return 1;
	return 0;
}

/*
 * Write one "key=value" line; 0 when it cannot be read back (too long, or
 * an inline comment).  No space before the value: "key = ;x" is an empty
 * value, "key=;x" is ";x".
 */
static int
put_line(FILE *f, const char *key, const char *value)
{
	int n = fprintf(f, "%s=%s\n", key, value);

	return n > 0 && n - 1 <= LINE_MAX_WRITTEN &&
	    !has_inline_comment(value);
}

/* c as a file (malloc'd), or NULL when a value does not fit in a line. */
static char *
config_write(const struct config *c)
{
	char *text = NULL, num[64], *member;
	size_t size = 0, i;
	FILE *f = open_memstream(&text, &size);
	int ok = 1;

	fputs("[node]\n", f);
	for (i = 0; i < NELEM(strings); i++)
		if (string_at(c, i) != NULL)
			ok &= put_line(f, strings[i].key, string_at(c, i));
	for (i = 0; i < NELEM(numbers); i++) {
		snprintf(num, sizeof(num), "%llu", number_at(c, i));
		ok &= put_line(f, numbers[i].key, num);
	}
	snprintf(num, sizeof(num), "%.17g", c->phi_threshold);
	ok &= put_line(f, "phi_threshold", num);
	ok &= put_line(f, "insecure", c->insecure ? "yes" : "no");
	/* Members lines add up: one member a line. */
	for (i = 0; i < c->nmembers; i++) {
		if (asprintf(&member, "%s@%s%s%s", c->members[i].id,
		    c->members[i].addr, c->members[i].rack[0] ? "/" : "",
		    c->members[i].rack) < 0)
			abort();
		ok &= put_line(f, "members", member);
		free(member);
	}
	fclose(f);
	if (!ok) {
		free(text);
		return NULL;
	}
	return text;
}

static int
same_string(const char *a, const char *b)
{
	return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

static int
config_equal(const struct config *a, const struct config *b)
{
	size_t i;

	for (i = 0; i < NELEM(strings); i++)
		if (!same_string(string_at(a, i), string_at(b, i)))
			return 0;
	for (i = 0; i < NELEM(numbers); i++)
		if (number_at(a, i) != number_at(b, i))
			return 0;
	if (a->phi_threshold != b->phi_threshold ||
	    a->insecure != b->insecure || a->nmembers != b->nmembers)
		return 0;
	for (i = 0; i < a->nmembers; i++)
		if (strcmp(a->members[i].id, b->members[i].id) != 0 ||
		    strcmp(a->members[i].addr, b->members[i].addr) != 0 ||
		    strcmp(a->members[i].rack, b->members[i].rack) != 0)
			return 0;
	return 1;
}

/* An answer: 0 and no message, or QERR_INVALID and one. */
static void
check_answer(int rc, char *err, int names_file)
{
	if (rc == 0)
		FUZZ_CHECK(err == NULL, "success sets no message");
	else {
		FUZZ_CHECK(rc == QERR_INVALID && err != NULL,
		    "a failure is QERR_INVALID with a message");
		if (names_file)
			FUZZ_CHECK(strncmp(err, NAME, strlen(NAME)) == 0,
			    "an error names the file");
	}
	free(err);
}

/* config_check's answer, checked. */
static int
check(struct config *c)
{
	char *err = NULL;
	int rc = config_check(c, &err);

	check_answer(rc, err, 0);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size), *again, *err = NULL;
	struct config c, back;
	int rc;

	config_init(&c);
	rc = config_load_string(&c, NAME, text, &err);
	check_answer(rc, err, 1);
	free(text);
	if (rc < 0 || (again = config_write(&c)) == NULL) {
		if (rc == 0)
			check(&c);
		config_release(&c);
		return 0;
	}
	config_init(&back);
	err = NULL;
	rc = config_load_string(&back, NAME, again, &err);
	if (rc < 0 || !config_equal(&c, &back))
		fprintf(stderr, "fuzz-config: %s\n--- written back:\n%s",
		    err ? err : "differs", again);
	FUZZ_CHECK(rc == 0, "a loaded config written back loads");
	FUZZ_CHECK(config_equal(&c, &back),
	    "a config survives being written back");
	FUZZ_CHECK(check(&c) == check(&back), "config_check agrees on both");
	free(again);
	config_release(&c);
	config_release(&back);
	return 0;
}
