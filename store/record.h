/*
 * record.h - encoding of version sets and contexts to bytes (protobuf-c).
 *
 * A record is a version set's headers, metadata and data lengths: what
 * store/ keeps per key.  In its stored form a version's data of at most
 * RECORD_INLINE_MAX bytes is in the record too (one LevelDB row per small
 * write instead of two, and a get of a small value reads one row); bigger
 * data is the store's to keep in chunk rows.  A context is a struct cc as the
 * opaque bytes a client gets with a read and hands back with a write.
 * Decoders accept any bytes: what does not decode, or breaks an invariant of
 * causal.h, is QERR_CORRUPT with a message, never a crash.
 */
#ifndef STORE_RECORD_H
#define STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store/causal.h"

#define RECORD_FORMAT         1	/* no data inline */
#define RECORD_FORMAT_INLINE  2	/* some version's data inline */
#define RECORD_FORMAT_BLOB    3	/* some version's data in a blob file */
/*
 * Small enough to go inline: a listing decodes every record of a
 * directory, so this bounds what listing a directory of small files reads
 * beyond their attributes.
 */
#define RECORD_INLINE_MAX     1024

/* Encode s without data into *out (malloc'd, caller frees). */
void	record_encode(const struct vset *s, uint8_t **out, size_t *len);
/*
 * Encode s in its stored form: as record_encode, plus the data of every
 * version that has its data in memory (data != NULL) of 1 to
 * RECORD_INLINE_MAX bytes, and which versions have their data in a blob
 * file (in_blob; decoded back into in_blob).
 */
void	record_encode_stored(const struct vset *s, uint8_t **out,
	    size_t *len);
/*
 * Decode a record of either form into *s (initialised here).  With
 * want_inline a version stored inline gets its data (data != NULL); every
 * other data pointer is NULL.
 */
int	record_decode(const uint8_t *buf, size_t len, int want_inline,
	    struct vset *s, char **err);

/*
 * A record's digest: XXH3 of the key, a NUL and the record's encoding.
 * Equal version sets give equal digests on every node; never 0, which
 * stands for "no record".
 */
uint64_t record_digest(const char *key, size_t klen, const struct vset *s);

void	context_encode(const struct cc *cc, uint8_t **out, size_t *len);
/*
 * Decode a context into *cc (initialised here).  Beyond cc_check, no
 * counter may be over CAUSAL_CONTEXT_COUNTER_MAX.
 */
int	context_decode(const uint8_t *buf, size_t len, struct cc *cc,
	    char **err);

#endif
