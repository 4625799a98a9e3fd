/*
 * fuzz_frame.c - libFuzzer target for frame_decode (make fuzz).
 *
 * The input is a byte stream as a peer might send it.  Decode frames from
 * it one after the other, as a connection would, and check the contract of
 * frame.h on each answer:
 *   - an error sets a message; success sets none and returns a body;
 *   - *consumed stays within the input, and 0 means "need more bytes";
 *   - a frame that decoded re-encodes, and the re-encoded frame decodes and
 *     re-encodes to the same bytes (packing a decoded Envelope is stable),
 *     unless the canonical frame, shorter, is over its memory budget;
 *   - a decoded frame less its last byte is "need more bytes";
 *   - a max below its payload turns a decodable frame into QERR_TOO_BIG.
 * ASan and UBSan (built in by `make fuzz-frame`) catch the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/qerr.h"
#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Check the contract on one decode's answer; abort on a broken one. */
static void
check_answer(int rc, size_t consumed, size_t len, Quorum__Envelope *env,
    char *err)
{
	if (rc == 1) {
		if (env == NULL || err != NULL || consumed < FRAME_HEADER_LEN ||
		    consumed > len ||
		    env->body_case == QUORUM__ENVELOPE__BODY__NOT_SET)
			abort();
	} else if (rc == 0) {
		if (env != NULL || err != NULL || consumed != 0)
			abort();
	} else {
		if (env != NULL || err == NULL || consumed > len)
			abort();
		if (rc != QERR_TOO_BIG && rc != QERR_PROTO &&
		    rc != QERR_CORRUPT)
			abort();
	}
}

/* encode(env) must decode, and re-encode to the same bytes. */
static void
check_reencode(const Quorum__Envelope *env)
{
	Quorum__Envelope *again = NULL;
	uint8_t *f1 = NULL, *f2 = NULL;
	size_t l1, l2, consumed;
	char *err = NULL;
	int rc;

	if (frame_encode(env, 0, &f1, &l1, &err) != 0)
		abort();
	rc = frame_decode(f1, l1, 0, &consumed, &again, &err);
	if (rc == QERR_TOO_BIG) {
		/*
		 * The canonical encoding can be shorter than the input (no
		 * padded varints, no repeated fields), so its memory budget
		 * smaller: refusing it is within the contract.
		 */
		free(err);
		free(f1);
		return;
	}
	if (rc != 1 || consumed != l1)
		abort();
	if (frame_encode(again, 0, &f2, &l2, &err) != 0)
		abort();
	if (l1 != l2 || memcmp(f1, f2, l1) != 0)
		abort();
	frame_free(again);
	free(f1);
	free(f2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Quorum__Envelope *env;
	size_t off = 0, consumed, frame_len;
	char *err;
	int rc;

	while (off < size) {
		env = NULL;
		err = NULL;
		rc = frame_decode(data + off, size - off, 0, &consumed, &env,
		    &err);
		check_answer(rc, consumed, size - off, env, err);
		if (rc == 1) {
			check_reencode(env);
			frame_free(env);

			/* One byte short is "need more". */
			rc = frame_decode(data + off, consumed - 1, 0,
			    &frame_len, &env, &err);
			check_answer(rc, frame_len, consumed - 1, env, err);
			if (rc != 0)
				abort();

			/* A limit below the payload is QERR_TOO_BIG. */
			if (consumed > FRAME_HEADER_LEN + 1) {
				rc = frame_decode(data + off, consumed,
				    consumed - FRAME_HEADER_LEN - 1,
				    &frame_len, &env, &err);
				check_answer(rc, frame_len, consumed, env,
				    err);
				if (rc != QERR_TOO_BIG)
					abort();
				free(err);
				err = NULL;
			}
		}
		free(err);
		if (consumed == 0)
			break;
		off += consumed;
	}
	return 0;
}
