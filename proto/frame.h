/*
 * frame.h - framing: one Envelope (proto/quorum.proto) per frame.
 *
 * A frame on the wire is
 *
 *     +----------------+---------+-------------------------+
 *     | length: 4 bytes| version | payload: length bytes   |
 *     | big-endian     | 1 byte  | the packed Envelope     |
 *     +----------------+---------+-------------------------+
 *
 * so a whole frame is FRAME_HEADER_LEN + length bytes.  The version byte is
 * FRAME_VERSION; a frame with any other version is a protocol error.  Every
 * function takes `max`, the largest payload accepted (0 means
 * FRAME_DEFAULT_MAX, which a STORE_DEFAULT_MAX_VALUE value and its
 * metadata fit in); a length over it is QERR_TOO_BIG.
 *
 * This module encodes and decodes; it never does I/O and keeps no state, so
 * it is safe to call from any thread.  Decoding trusts nothing: on any bytes
 * at all it returns a result without reading outside buf[0..len) and
 * without crashing.  It checks the framing and that the Envelope unpacks and
 * has a body; the meaning of the fields (valid keys, sorted contexts, known
 * enum values, present sub-messages) is the receiver's to check.  Fields
 * this build does not know (a newer peer's) are kept, and frame_encode sends
 * them on unchanged; so a decoded Envelope re-encodes to a frame that
 * decodes to the same Envelope (the memory bound permitting: see below).
 *
 * Memory: what an Envelope costs in memory is bounded by its frame, not by
 * what its bytes claim.  The payload is allocated only once the whole frame
 * is in the caller's buffer, and unpacking is refused (QERR_TOO_BIG) once it
 * would take more than FRAME_DECODE_FACTOR times the payload length plus
 * FRAME_DECODE_SLACK bytes, so a small frame of many empty sub-messages
 * cannot expand into gigabytes.  An event loop calls frame_peek_length on
 * the first bytes of a frame to refuse an oversized one before buffering it.
 *
 * Errors follow lib/qerr.h: < 0 is a QERR_ code and *err (when err is not
 * NULL) receives a malloc'd message the caller frees.
 *
 * Ownership: frame_encode's *out is malloc'd, the caller frees it with
 * free(); frame_decode's *out is the caller's, freed with frame_free.
 */
#ifndef PROTO_FRAME_H
#define PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/quorum.pb-c.h"

#define FRAME_HEADER_LEN     5            /* length (4) + version (1) */
#define FRAME_VERSION        1
#define FRAME_DEFAULT_MAX    (80u << 20)  /* 80 MiB: a 64 MiB value fits */
#define FRAME_DECODE_FACTOR  16           /* see "Memory" above */
#ifndef FRAME_DECODE_SLACK                /* the fuzz target lowers it */
#define FRAME_DECODE_SLACK   (1u << 20)
#endif

/*
 * Look at the header at the start of buf[0..len).  Returns 0 when fewer than
 * FRAME_HEADER_LEN bytes are there yet; 1 when the header is complete and
 * acceptable, with *frame_len set to the size of the whole frame (header
 * included) so the caller knows how many bytes to wait for; QERR_TOO_BIG
 * when the length is over max; QERR_PROTO for a version other than
 * FRAME_VERSION.  Reads at most FRAME_HEADER_LEN bytes and allocates nothing.
 */
int	frame_peek_length(const uint8_t *buf, size_t len, size_t max,
	    size_t *frame_len, char **err);

/*
 * Decode the frame at the start of buf[0..len).  Returns
 *   1  a whole frame was decoded: *out is the Envelope (its body_case is
 *      never QUORUM__ENVELOPE__BODY__NOT_SET) and *consumed the frame's size;
 *      bytes past it are the next frame's and are not looked at;
 *   0  the frame is not complete yet: call again with more bytes
 *      (*consumed is 0);
 *   QERR_TOO_BIG  the length is over max, or unpacking would take more
 *      memory than the frame allows (see "Memory" above);
 *   QERR_PROTO    the version is not FRAME_VERSION, or the Envelope has no
 *      body (an empty one, or a body type this build does not know);
 *   QERR_CORRUPT  the payload does not unpack as an Envelope, or has a
 *      field number protobuf does not allow (0, or over 2^29-1).
 * On an error *out is NULL.  When the header was refused (a wrong version,
 * a length over max) *consumed is 0 and the stream cannot be resynchronised:
 * drop the connection.  When only the payload was refused (QERR_CORRUPT, no
 * body, the memory bound) the frame was whole and delimited: *consumed is
 * its size, and a caller may skip it (answering an Error) and read on.
 */
int	frame_decode(const uint8_t *buf, size_t len, size_t max,
	    size_t *consumed, Quorum__Envelope **out, char **err);

/* Free an Envelope returned by frame_decode; NULL is a no-op. */
void	frame_free(Quorum__Envelope *env);

/*
 * Encode env as one frame into a new buffer: *out (malloc'd, the caller
 * frees it) holds *out_len bytes, header included.  Returns 0, or
 * QERR_INVALID when env is not an Envelope or has no body (body_case not
 * set, or its sub-message pointer NULL), QERR_TOO_BIG when the packed
 * Envelope is over max.  Nothing is allocated on error.
 */
int	frame_encode(const Quorum__Envelope *env, size_t max, uint8_t **out,
	    size_t *out_len, char **err);

/*
 * frame_encode in two steps, for a caller that owns the buffer (a
 * connection's output queue): frame_measure checks env as frame_encode
 * does and gives the frame's whole length; frame_write packs env into
 * buf, which has that many bytes.
 */
int	frame_measure(const Quorum__Envelope *env, size_t max,
	    size_t *frame_len, char **err);
int	frame_write(const Quorum__Envelope *env, uint8_t *buf,
	    size_t frame_len, char **err);

#endif
