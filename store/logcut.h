/*
 * logcut.h - cut LevelDB's write-ahead logs back to what was synced, before
 * LevelDB reads them.
 *
 * The store's logs are written over blocks already zero-filled and synced
 * (store/logenv.h), so that a sync overwrites in place and commits no
 * metadata.  The price is that after a power loss (not a process crash: the
 * page cache survives SIGKILL) a log is no longer a clean prefix of what was
 * written: the pages of the one write not yet synced may reach the disk in
 * any order, some of them new, some still zeros, a sector torn.  LevelDB's
 * reader would skip a zeroed block and apply a later piece, or, with
 * paranoid checks, refuse to open.  logcut_dir runs first and makes every
 * log a clean prefix again.
 *
 * Log format (LevelDB's doc/log_format.md): 32 KiB blocks of records, each
 * a 7-byte header (masked CRC32C of type and payload, 16-bit length, type:
 * FULL, or FIRST, MIDDLE..., LAST for a record split over blocks) and its
 * payload; fewer than 7 bytes left in a block are zero padding; a zero
 * header (type 0, length 0) is where preallocated space begins.
 *
 * Contract:
 *   - A log is cut at the end of its last whole record before the first
 *     thing that is not a valid record: a zero header, a bad checksum,
 *     length or type, a fragment out of order, the end of the file.  The
 *     bytes from there on are removed (ftruncate, then fsync), so LevelDB
 *     sees exactly the records that precede them.
 *   - Only the tail of an interrupted write is ever cut.  The store syncs
 *     every write and LevelDB writes its next record only after the sync of
 *     the one before returned, so at most the log's last record can be
 *     damaged.  If a whole record follows the damage (right after a record
 *     whose checksum failed, in its block, or starting any later block as
 *     FULL or FIRST), synced records were damaged (the disk, not a power
 *     loss): nothing is cut and the call fails with QERR_CORRUPT, naming
 *     the file and offsets, so that LevelDB is never opened over it.
 *   - An abandoned append is removed, not taken for damage.  When a write
 *     to the log fails (the disk full), LevelDB gives up that record after
 *     the fragments it had handed over, tells its caller the write failed,
 *     and goes on with the next record; the environment writes those
 *     fragments with the next record (logenv.h), so the log holds a FIRST
 *     (and MIDDLE) fragment that fills its blocks, whole and checksummed,
 *     then a FULL or FIRST at the next block.  LevelDB's reader takes that
 *     for corruption and, with paranoid checks, would never open the store
 *     again.  The log is then written anew without those fragments (the
 *     write they held failed and was never applied) and with every whole
 *     record, in order, laid out as LevelDB writes: a temporary file,
 *     synced, renamed over the log.  A damaged fragment (a bad checksum)
 *     is never taken for one.
 *   - A log that is already a clean prefix is not written to.
 *
 * Errors follow lib/qerr.h: QERR_IO when a file cannot be read or cut,
 * QERR_CORRUPT as above.
 */
#ifndef STORE_LOGCUT_H
#define STORE_LOGCUT_H

#include <stddef.h>
#include <stdint.h>

#define LOGCUT_BLOCK	32768
#define LOGCUT_HEADER	7

#ifdef __cplusplus
extern "C" {
#endif

/* What cutting one log found. */
struct logcut_result {
	uint64_t	size;		/* the file's size before */
	uint64_t	kept;		/* bytes kept: the clean prefix */
	uint64_t	dropped_nonzero;/* non-zero bytes among those cut */
	unsigned	abandoned;	/* abandoned appends left out */
	const char	*why;		/* static: what ended the prefix */
};

/*
 * Cut the log at path (see the contract).  *res says what was found; the
 * file is changed only when res->kept < res->size.
 */
int	logcut_file(const char *path, struct logcut_result *res, char **err);

/*
 * Cut every log (NNNNNN.log) in LevelDB directory dir.  For each log that
 * was cut, note(line, arg) is called with a sentence saying so (note may be
 * NULL).  A missing directory is not an error (a new store).  The cut
 * runs under LevelDB's own lock (fcntl on dir/LOCK): a directory another
 * process has open is QERR_IO "in use by another process", nothing cut.
 * The caller must not have dir open in LevelDB itself: an fcntl lock does
 * not stop its own process, and the cut's close of dir/LOCK would drop
 * LevelDB's lock (store_open keeps a list of its open directories).
 */
int	logcut_dir(const char *dir,
	    void (*note)(const char *line, void *arg), void *arg, char **err);

/* The masked CRC32C LevelDB stores for a record of type and payload. */
uint32_t logcut_record_crc(uint8_t type, const void *payload, size_t len);

/* 1 if name (no directory) is a LevelDB log's: "000123.log". */
int	logcut_is_log_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
