/*
 * logenv.h - a LevelDB environment whose write-ahead logs are written over
 * blocks already zero-filled and synced.
 *
 * Why: an fdatasync of a file that grew must commit the file's new size and
 * extents through the file system's journal, and on one disk every node's
 * log shares that journal, so each sync waits for the others' commits.  A
 * sync that only overwrites allocated blocks commits no metadata.  Measured
 * on the development VM (docs/bench-kv.md): 1.12x the puts/s at 64 clients
 * and 1.18x at 4, for 0.86-0.89x the CPU per put.
 *
 * Contract:
 *   - Every file LevelDB opens for writing whose name is a log's
 *     ("NNNNNN.log") is zero-filled ahead of its writes: a thread of the
 *     file's own keeps up to LOGENV_AHEAD bytes of zeros written and synced
 *     past what was written, 1 MiB at a time, from the log's second MiB on
 *     (the first is appended to, as LevelDB's default does, so a new log
 *     never waits for zeros).  A write that goes past the zeros (one
 *     bigger than they are, or made while the filler is behind) waits for
 *     the filler's chunk under way, if any, then appends like LevelDB's
 *     default.  Every other file (tables, the manifest, LevelDB's info log)
 *     is LevelDB's default.
 *   - A write that fails (ENOSPC, say) is an IOError to LevelDB, and its
 *     bytes stay buffered: the next write writes them first, so the file
 *     stays in step with LevelDB's block layout.  LevelDB gives up the
 *     record that failed and goes on, which can leave its first fragments
 *     without the rest (an abandoned append): logcut_dir removes those.
 *   - Sync of a log is an fdatasync after the bytes written so far; what it
 *     promises is LevelDB's default's promise.
 *   - Closing a log returns once what was appended is written; its filler
 *     then finishes the chunk under way, cuts the file to what was written
 *     and closes it (LevelDB switches logs under the mutex its reads take,
 *     and a chunk's sync takes milliseconds).  The cut is not synced and
 *     its errors are not reported: a crash before it, or a failed cut,
 *     leaves zeros that logcut_dir removes.  logenv_settle waits for
 *     every closed log's cut.
 *   - After a crash a log ends in zeros, and after a power loss its last
 *     record may be torn: store_open runs logcut_dir (logcut.h) before
 *     LevelDB reads the logs, which is required with this environment.
 *
 * The environment is one per process, never freed; errors reach LevelDB as
 * its IOError status with the file name and strerror.
 */
#ifndef STORE_LOGENV_H
#define STORE_LOGENV_H

#include <leveldb/c.h>

#define LOGENV_AHEAD	(4u << 20)	/* zeros kept ahead of the writes */

#ifdef __cplusplus
extern "C" {
#endif

/* The environment, for leveldb_options_set_env; not to be destroyed. */
leveldb_env_t	*logenv_get(void);
/*
 * Wait until every log closed so far is cut and closed (store_close calls
 * it, so a closed store's files are final when it returns).
 */
void		 logenv_settle(void);

#ifdef __cplusplus
}
#endif

#endif
