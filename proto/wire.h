/*
 * wire.h - between the wire messages (quorum.proto) and the causal types of
 * store/causal.h.
 *
 * To pb: the protobuf-c structs built point into the source vset and into an
 * arena; they live until the arena is released, long enough to pack them.
 * From pb: a deep copy, checked against every invariant of causal.h, since
 * whatever came off the network is untrusted (QERR_CORRUPT on a breach).
 */
#ifndef PROTO_WIRE_H
#define PROTO_WIRE_H

#include <stddef.h>

#include "proto/quorum.pb-c.h"
#include "store/causal.h"

/*
 * Memory for protobuf-c structs that point into other data: a message is
 * built from tens of small structs, each taken from a block of
 * WIRE_ARENA_BLOCK bytes (a bigger one gets a block of its own), all freed
 * together.  Zero-initialise (`struct wire_arena a = { 0 };`).
 */
#define WIRE_ARENA_BLOCK	4096

struct wire_block;
struct wire_arena {
	struct wire_block	*blocks;	/* the one being filled first */
	size_t			 used;		/* bytes taken of blocks */
};

void	*wire_alloc(struct wire_arena *a, size_t size);	/* zeroed */
void	 wire_arena_release(struct wire_arena *a);

/* s as a VersionSet; data included only when with_data and loaded. */
Quorum__VersionSet *wire_vset_to_pb(const struct vset *s, int with_data,
	    struct wire_arena *a);
Quorum__Dot *wire_dot_to_pb(const struct dot *d, struct wire_arena *a);

/* A deep, checked copy of pb into *out (initialised here). NULL is empty. */
int	wire_vset_from_pb(const Quorum__VersionSet *pb, struct vset *out,
	    char **err);

#endif
