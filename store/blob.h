/*
 * blob.h - the data of big versions, each in a file of its own beside
 * LevelDB's (DBDIR/blobs/).
 *
 * Why: LevelDB writes a value into its log, then into a level-0 table when
 * the memtable is flushed, then again at each compaction that moves it a
 * level down.  For a 64 MiB file that is three or four times its bytes on
 * every replica, and the small writes that follow sync behind those flushes
 * on the same disk.  A blob is written once, sequentially, and synced;
 * LevelDB keeps only the record that names it.
 *
 * Contract:
 *   - A version's blob is named by a hash of its key and dot; its file
 *     starts with a header (magic, key, dot, data length, CRC-32C of the
 *     data) that blob_read checks against what the record says.
 *   - blob_stage writes the file under a temporary name; blob_commit
 *     makes it durable and renames it into place; blobdir_sync makes the
 *     renames durable.  The store commits the record that names a blob
 *     only after all three, so a record never names a blob that a crash
 *     could lose.
 *   - The store removes a blob (blob_remove) only after the change that
 *     dropped its version is committed; a crash in between leaves a blob no
 *     record names, which blobdir_sweep removes at the next open.
 *   - blob_read of a blob removed since its record was read is QERR_STALE:
 *     the caller reads the record again.
 *
 * Errors follow lib/qerr.h, with the file's name and strerror.  Not
 * thread-safe for writes (the store's writer is the one writer); reads may
 * run on any thread.
 */
#ifndef STORE_BLOB_H
#define STORE_BLOB_H

#include <stddef.h>

#include "store/causal.h"

/* Versions with this much data or more keep it in a blob. */
#define BLOB_MIN	(1u << 20)

struct blobdir;

/* Open DBDIR/blobs, making it if missing. */
int	blobdir_open(const char *dbdir, struct blobdir **out, char **err);
void	blobdir_close(struct blobdir *b);

/*
 * Write v's data (v->data, v->data_len bytes) as the blob of key and v's
 * dot, under its temporary name, not synced; *fd stays open for
 * blob_commit or blob_abandon.  Staging first and syncing at commit lets
 * the caller hand the version on to other replicas meanwhile.
 */
int	blob_stage(struct blobdir *b, const char *key, size_t klen,
	    const struct version *v, int *fd, char **err);
/*
 * Sync a staged blob, close fd and rename it into place (not yet durable
 * in the directory: blobdir_sync).  *existed: 1 when a blob of that name
 * was there already (the same version's, so the same bytes: a record may
 * name it).  On error fd is closed and the temporary file removed.
 */
int	blob_commit(struct blobdir *b, const char *key, size_t klen,
	    const struct dot *d, int fd, int *existed, char **err);
/* Close a staged blob's fd and remove its temporary file. */
void	blob_abandon(struct blobdir *b, const char *key, size_t klen,
	    const struct dot *d, int fd);
/* Make the directory's entries durable (the renames of blob_commit). */
int	blobdir_sync(struct blobdir *b, char **err);
/* Read the blob of key and v's dot into v->data (malloc'd, v->data_len
 * bytes, checked).  QERR_STALE when there is no such blob. */
int	blob_read(struct blobdir *b, const char *key, size_t klen,
	    struct version *v, char **err);
/* Remove the blob of key and dot d, if there is one (errors ignored). */
void	blob_remove(struct blobdir *b, const char *key, size_t klen,
	    const struct dot *d);

/*
 * Remove every temporary file, every file whose header does not read,
 * and every blob for which referenced(arg, key, klen, dot) returns 0.
 * *removed counts them.  For store_open, before the writer starts.
 */
typedef int (*blob_referenced_fn)(void *arg, const char *key, size_t klen,
	    const struct dot *d);
int	blobdir_sweep(struct blobdir *b, blob_referenced_fn referenced,
	    void *arg, size_t *removed, char **err);

#endif
