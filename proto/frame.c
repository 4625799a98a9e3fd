/*
 * frame.c - framing of Envelopes; see frame.h for the contract.
 *
 * Decoding runs in four steps, each only once the one before has passed:
 *   1. the header (frame_peek_length): version right, length <= max;
 *   2. completeness: nothing is unpacked until the whole frame is in buf,
 *      so a partial frame costs nothing and is never half-decoded;
 *   3. unpacking, through an allocator with a budget (struct decode_budget)
 *      that refuses any allocation past FRAME_DECODE_FACTOR * length +
 *      FRAME_DECODE_SLACK bytes in all; protobuf-c then unwinds and frees
 *      what it had built, and returns NULL;
 *   4. checks protobuf-c leaves out: field numbers of unknown fields
 *      (unknown_fields_valid), and that the Envelope has a body.
 * Invariants: every Envelope handed out has a body, and packs again into a
 * payload that decodes to the same Envelope; its memory comes from
 * xmalloc, so frame_free can give it back through protobuf-c's default
 * allocator (free); no path reads buf past len, nor past the frame.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "lib/xalloc.h"
#include "proto/frame.h"

/* The largest field number protobuf allows (2^29 - 1). */
#define FRAME_FIELD_NUMBER_MAX  536870911u

struct decode_budget {
	size_t	left;		/* bytes unpacking may still allocate */
	int	exceeded;	/* an allocation was refused */
};

/* The payload limit in force: max, 0 for the default, within 32 bits. */
static size_t
frame_limit(size_t max)
{
	if (max == 0)
		max = FRAME_DEFAULT_MAX;
	if (max > UINT32_MAX)
		max = UINT32_MAX;
	if (max > SIZE_MAX - FRAME_HEADER_LEN)
		max = SIZE_MAX - FRAME_HEADER_LEN;
	return max;
}

/* How many bytes unpacking a payload of len bytes may allocate. */
static size_t
frame_decode_budget(size_t len)
{
	if (len > (SIZE_MAX - FRAME_DECODE_SLACK) / FRAME_DECODE_FACTOR)
		return SIZE_MAX;
	return len * FRAME_DECODE_FACTOR + FRAME_DECODE_SLACK;
}

static void *
budget_alloc(void *arg, size_t size)
{
	struct decode_budget *b = arg;

	if (size > b->left) {
		b->exceeded = 1;
		return NULL;
	}
	b->left -= size;
	return xmalloc(size);
}

static void
budget_free(void *arg, void *p)
{
	free(p);
}

/*
 * 0 if every unknown field of m and of its sub-messages has a valid field
 * number, -1 if not.  protobuf-c 1.4 reads a tag of several bytes without
 * checking its number: it accepts 0 (refused only when written in one
 * byte, which is how it re-encodes it: a decoded message would not decode
 * again) and numbers up to 2^32-1 (which other protobuf implementations
 * refuse).  Both are invalid protobuf, refused here.  The schema is not
 * recursive, so it bounds the depth of this walk.
 */
static int
unknown_fields_valid(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	const ProtobufCFieldDescriptor *f;
	const ProtobufCMessage *sub, *const *subs;
	const char *base = (const char *)m;
	uint32_t oneof_case;
	unsigned int i;
	size_t j, n;

	for (i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0 ||
		    m->unknown_fields[i].tag > FRAME_FIELD_NUMBER_MAX)
			return -1;
	for (i = 0; i < desc->n_fields; i++) {
		f = &desc->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			memcpy(&n, base + f->quantifier_offset, sizeof(n));
			memcpy(&subs, base + f->offset, sizeof(subs));
			for (j = 0; j < n; j++)
				if (unknown_fields_valid(subs[j]) < 0)
					return -1;
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			memcpy(&oneof_case, base + f->quantifier_offset,
			    sizeof(oneof_case));
			if (oneof_case != f->id)
				continue;
		}
		memcpy(&sub, base + f->offset, sizeof(sub));
		if (sub != NULL && unknown_fields_valid(sub) < 0)
			return -1;
	}
	return 0;
}

int
frame_peek_length(const uint8_t *buf, size_t len, size_t max,
    size_t *frame_len, char **err)
{
	uint32_t length;

	*frame_len = 0;
	if (len < FRAME_HEADER_LEN)
		return 0;
	if (buf[4] != FRAME_VERSION)
		return qerr_set(err, QERR_PROTO,
		    "frame has protocol version %u, this build speaks %d",
		    (unsigned int)buf[4], FRAME_VERSION);
	length = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
	max = frame_limit(max);
	if (length > max)
		return qerr_set(err, QERR_TOO_BIG,
		    "frame payload is %" PRIu32 " bytes, the limit is %zu",
		    length, max);
	*frame_len = FRAME_HEADER_LEN + (size_t)length;
	return 1;
}

int
frame_decode(const uint8_t *buf, size_t len, size_t max, size_t *consumed,
    Quorum__Envelope **out, char **err)
{
	struct decode_budget budget;
	ProtobufCAllocator allocator;
	ProtobufCMessage *msg;
	Quorum__Envelope *env;
	size_t frame_len, payload_len;
	int rc;

	*consumed = 0;
	*out = NULL;
	rc = frame_peek_length(buf, len, max, &frame_len, err);
	if (rc <= 0)
		return rc;
	if (len < frame_len)
		return 0;

	payload_len = frame_len - FRAME_HEADER_LEN;
	budget.left = frame_decode_budget(payload_len);
	budget.exceeded = 0;
	allocator.alloc = budget_alloc;
	allocator.free = budget_free;
	allocator.allocator_data = &budget;
	msg = protobuf_c_message_unpack(&quorum__envelope__descriptor,
	    &allocator, payload_len, buf + FRAME_HEADER_LEN);

	/* The frame is whole and delimited: a caller may skip it from here. */
	*consumed = frame_len;
	if (msg == NULL && budget.exceeded)
		return qerr_set(err, QERR_TOO_BIG,
		    "frame payload of %zu bytes would decode into more than "
		    "%zu bytes", payload_len, frame_decode_budget(payload_len));
	if (msg == NULL)
		return qerr_set(err, QERR_CORRUPT,
		    "frame payload of %zu bytes is not a valid Envelope",
		    payload_len);
	env = (Quorum__Envelope *)msg;
	if (unknown_fields_valid(msg) < 0) {
		frame_free(env);
		return qerr_set(err, QERR_CORRUPT,
		    "frame payload has a field numbered 0 or over 2^29-1");
	}
	if (env->body_case == QUORUM__ENVELOPE__BODY__NOT_SET) {
		rc = qerr_set(err, QERR_PROTO, "envelope of request %" PRIu64
		    " has no body, or one this build does not know",
		    env->request_id);
		frame_free(env);
		return rc;
	}
	*out = env;
	return 1;
}

void
frame_free(Quorum__Envelope *env)
{
	if (env != NULL)
		protobuf_c_message_free_unpacked(&env->base, NULL);
}

int
frame_measure(const Quorum__Envelope *env, size_t max, size_t *frame_len,
    char **err)
{
	const ProtobufCFieldDescriptor *field;
	const void *body;
	size_t payload_len;

	*frame_len = 0;
	if (env == NULL || env->base.descriptor != &quorum__envelope__descriptor)
		return qerr_set(err, QERR_INVALID,
		    "frame_encode: not a quorum.Envelope");
	if (env->body_case == QUORUM__ENVELOPE__BODY__NOT_SET)
		return qerr_set(err, QERR_INVALID,
		    "refusing to encode an envelope with no body");
	/* A oneof case is the number of the field that holds the body. */
	field = protobuf_c_message_descriptor_get_field(
	    &quorum__envelope__descriptor, (unsigned int)env->body_case);
	if (field == NULL || field->type != PROTOBUF_C_TYPE_MESSAGE)
		return qerr_set(err, QERR_INVALID,
		    "envelope has an unknown body case %d",
		    (int)env->body_case);
	memcpy(&body, (const char *)env + field->offset, sizeof(body));
	if (body == NULL)
		return qerr_set(err, QERR_INVALID,
		    "envelope body %s is set but NULL", field->name);

	max = frame_limit(max);
	payload_len = protobuf_c_message_get_packed_size(&env->base);
	if (payload_len > max)
		return qerr_set(err, QERR_TOO_BIG,
		    "envelope with body %s packs to %zu bytes, the limit is %zu",
		    field->name, payload_len, max);
	*frame_len = FRAME_HEADER_LEN + payload_len;
	return 0;
}

int
frame_write(const Quorum__Envelope *env, uint8_t *buf, size_t frame_len,
    char **err)
{
	size_t payload_len = frame_len - FRAME_HEADER_LEN, packed;

	buf[0] = (uint8_t)(payload_len >> 24);
	buf[1] = (uint8_t)(payload_len >> 16);
	buf[2] = (uint8_t)(payload_len >> 8);
	buf[3] = (uint8_t)payload_len;
	buf[4] = FRAME_VERSION;
	packed = protobuf_c_message_pack(&env->base, buf + FRAME_HEADER_LEN);
	if (packed != payload_len)
		return qerr_set(err, QERR_INVALID,
		    "envelope packed to %zu bytes, %zu expected", packed,
		    payload_len);
	return 0;
}

int
frame_encode(const Quorum__Envelope *env, size_t max, uint8_t **out,
    size_t *out_len, char **err)
{
	uint8_t *buf;
	size_t len;
	int rc;

	*out = NULL;
	*out_len = 0;
	if ((rc = frame_measure(env, max, &len, err)) < 0)
		return rc;
	buf = xmalloc(len);
	if ((rc = frame_write(env, buf, len, err)) < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}
