/*
 * sizehint.h - what this mount last saw of each key: a regular file of so
 * many bytes, or something else, so that a lookup can read a small file's
 * data along with its attributes, and knows what to expect.
 *
 * A lookup that reads the data (quick-read, as GlusterFS's translator of
 * that name) saves the open that follows it a round trip; one that reads
 * a 64 MiB file's data for a stat wastes much more.  The attributes come
 * with the data or without it, in one request, so the size must be known
 * before asking: from an earlier read or write of the file by this mount.
 * A wrong hint costs time, never a wrong answer.
 *
 * A direct-mapped table of key hashes: a key whose slot another takes is
 * forgotten (its next lookup is a head again).  Thread-safe.
 */
#ifndef FS_SIZEHINT_H
#define FS_SIZEHINT_H

#include <stddef.h>
#include <stdint.h>

/* The size noted for a key that is there but is not a regular file. */
#define SIZEHINT_NOT_FILE	UINT64_MAX

struct sizehint;

struct sizehint *sizehint_new(size_t nslots);
void	sizehint_free(struct sizehint *h);

/* key is a regular file of size bytes (or SIZEHINT_NOT_FILE). */
void	sizehint_note(struct sizehint *h, const char *key, uint64_t size);
/* key is gone, or nothing is known of it: no hint. */
void	sizehint_forget(struct sizehint *h, const char *key);
/* 1 and *size if a size is known for key, else 0. */
int	sizehint_get(struct sizehint *h, const char *key, uint64_t *size);

#endif
