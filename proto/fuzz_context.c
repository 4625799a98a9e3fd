/*
 * fuzz_context.c - libFuzzer target for the decoders of contexts and
 * version sets: every place bytes from a client, a peer or the disk become
 * a struct cc or a struct vset.
 *
 * The first byte picks the decoder, the rest is its input:
 *   0  context_decode: the opaque context a client hands back with a write
 *      (replication/coord.c decodes it);
 *   1  record_decode: a stored record or a hint (store/), without and with
 *      inline data;
 *   2  wire_vset_from_pb: a VersionSet in a peer's message (proto/wire.h).
 * The contract of record.h and wire.h, checked on each answer:
 *   - bytes that do not decode, or break an invariant of causal.h, are
 *     QERR_CORRUPT with a message; success has no message and a value
 *     that passes cc_check / vset_check;
 *   - what decoded re-encodes, decodes to an equal value, and re-encodes
 *     to the same bytes (the encoding of a decoded value is stable);
 *   - a decoded set merged with itself is itself.
 * ASan and UBSan catch the rest.
 */
#define FUZZ_NAME "fuzz-context"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "proto/wire.h"
#include "store/causal.h"
#include "store/record.h"
#include "tests/fuzz/fuzz.h"


/* A decoder's answer: 0 and no message, or QERR_CORRUPT and one. */
static void
check_answer(int rc, char *err)
{
	if (rc == 0)
		FUZZ_CHECK(err == NULL, "success sets no message");
	else
		FUZZ_CHECK(rc == QERR_CORRUPT && err != NULL,
		    "a failure is QERR_CORRUPT with a message");
	free(err);
}

static void
check_context(const uint8_t *buf, size_t len)
{
	struct cc cc, back;
	uint8_t *e1, *e2;
	size_t l1, l2;
	char *err = NULL;
	int rc;

	rc = context_decode(buf, len, &cc, &err);
	check_answer(rc, err);
	if (rc < 0) {
		FUZZ_CHECK(cc.n == 0 && cc.nr == 0, "a failed decode leaves it empty");
		return;
	}
	FUZZ_CHECK(cc_check(&cc, NULL) == 0, "a decoded context is valid");
	context_encode(&cc, &e1, &l1);
	FUZZ_CHECK(context_decode(e1, l1, &back, NULL) == 0,
	    "a re-encoded context decodes");
	FUZZ_CHECK(cc_equal(&cc, &back), "a context survives re-encoding");
	context_encode(&back, &e2, &l2);
	FUZZ_CHECK(l1 == l2 && memcmp(e1, e2, l1) == 0,
	    "a context's encoding is stable");
	cc_release(&cc);
	cc_release(&back);
	free(e1);
	free(e2);
}

/* Decoded sets: valid, and merge(s, s) = s. */
static void
check_set(const struct vset *s)
{
	struct vset ss;

	FUZZ_CHECK(vset_check(s, NULL) == 0, "a decoded set is valid");
	vset_merge(s, s, &ss);
	FUZZ_CHECK(vset_check(&ss, NULL) == 0, "merge(s, s) is valid");
	FUZZ_CHECK(vset_equal_headers(&ss, s), "merge(s, s) is s");
	vset_release(&ss);
}

static void
check_record(const uint8_t *buf, size_t len, int want_inline)
{
	struct vset s, back;
	uint8_t *e1, *e2;
	size_t l1, l2, i;
	char *err = NULL;
	int rc;

	rc = record_decode(buf, len, want_inline, &s, &err);
	check_answer(rc, err);
	if (rc < 0) {
		FUZZ_CHECK(s.n == 0 && s.cc.n == 0, "a failed decode leaves it empty");
		return;
	}
	check_set(&s);
	for (i = 0; i < s.n && !want_inline; i++)
		FUZZ_CHECK(s.v[i].data == NULL, "no data unless asked for");
	record_encode_stored(&s, &e1, &l1);
	FUZZ_CHECK(record_decode(e1, l1, 1, &back, NULL) == 0,
	    "a re-encoded record decodes");
	FUZZ_CHECK(want_inline ? vset_equal(&s, &back) :
	    vset_equal_headers(&s, &back), "a record survives re-encoding");
	record_encode_stored(&back, &e2, &l2);
	if (want_inline)
		FUZZ_CHECK(l1 == l2 && memcmp(e1, e2, l1) == 0,
		    "a record's encoding is stable");
	FUZZ_CHECK(record_digest("k", 1, &s) == record_digest("k", 1, &back),
	    "equal sets have equal digests");
	vset_release(&s);
	vset_release(&back);
	free(e1);
	free(e2);
}

/* A set through the wire: pack, unpack, convert, as a peer would. */
static int
wire_roundtrip(const struct vset *s, struct vset *back)
{
	struct wire_arena a = { 0 };
	Quorum__VersionSet *pb = wire_vset_to_pb(s, 1, &a), *again;
	uint8_t *buf = malloc(quorum__version_set__get_packed_size(pb) + 1);
	size_t len = quorum__version_set__pack(pb, buf);
	int rc;

	wire_arena_release(&a);
	again = quorum__version_set__unpack(NULL, len, buf);
	FUZZ_CHECK(again != NULL, "a packed set unpacks");
	rc = wire_vset_from_pb(again, back, NULL);
	quorum__version_set__free_unpacked(again, NULL);
	free(buf);
	return rc;
}

static void
check_wire(const uint8_t *buf, size_t len)
{
	Quorum__VersionSet *pb;
	struct vset s, back;
	char *err = NULL;
	int rc;

	pb = quorum__version_set__unpack(NULL, len, buf);
	if (pb == NULL)
		return;		/* protobuf-c's own refusal */
	rc = wire_vset_from_pb(pb, &s, &err);
	quorum__version_set__free_unpacked(pb, NULL);
	check_answer(rc, err);
	if (rc < 0) {
		FUZZ_CHECK(s.n == 0 && s.cc.n == 0, "a failed decode leaves it empty");
		return;
	}
	check_set(&s);
	FUZZ_CHECK(wire_roundtrip(&s, &back) == 0, "a set sent again decodes");
	FUZZ_CHECK(vset_equal(&s, &back), "a set survives the wire");
	vset_release(&s);
	vset_release(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		check_context(data + 1, size - 1);
		break;
	case 1:
		check_record(data + 1, size - 1, 0);
		break;
	case 2:
		check_record(data + 1, size - 1, 1);
		break;
	default:
		check_wire(data + 1, size - 1);
		break;
	}
	return 0;
}
