/*
 * record.h - encoding of version sets and contexts to bytes (protobuf-c).
 *
 * A record is a version set without its data (headers, metadata, data
 * lengths): what store/ keeps per key.  A context is a struct cc as the
 * opaque bytes a client gets with a read and hands back with a write.
 * Decoders accept any bytes: what does not decode, or breaks an invariant of
 * causal.h, is QERR_CORRUPT with a message, never a crash.
 */
#ifndef STORE_RECORD_H
#define STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store/causal.h"

#define RECORD_FORMAT  1

/* Encode s without data into *out (malloc'd, caller frees). */
void	record_encode(const struct vset *s, uint8_t **out, size_t *len);
/* Decode a record into *s (initialised here; data pointers NULL). */
int	record_decode(const uint8_t *buf, size_t len, struct vset *s,
	    char **err);

/*
 * A record's digest: XXH3 of the key, a NUL and the record's encoding.
 * Equal version sets give equal digests on every node; never 0, which
 * stands for "no record".
 */
uint64_t record_digest(const char *key, size_t klen, const struct vset *s);

void	context_encode(const struct cc *cc, uint8_t **out, size_t *len);
/* Decode a context into *cc (initialised here). */
int	context_decode(const uint8_t *buf, size_t len, struct cc *cc,
	    char **err);

#endif
