/*
 * store_int.h - the store's insides, shared by the files of store/ only
 * (store.c, hints.c, and leveldb-bench).  Nothing outside store/
 * includes this.
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <leveldb/c.h>

#include "store/causal.h"
#include "store/store.h"

/* A batch of the writer takes at most this many ops, or this many bytes
 * of data (but always one op, however large). */
#define STORE_BATCH_OPS    512
#define STORE_BATCH_BYTES  (16u << 20)
/* A batch of more data than this has a WriteBatch of its own (store.c). */
#define STORE_WB_KEEP_MAX  (1u << 20)

struct pending;
struct blobdir;

/* Blobs of one batch (store.c): the key and dot of each. */
struct blob_ref {
	char		*key;
	size_t		 klen;
	struct dot	 dot;
	int		 fd;		/* staged, not committed yet; else -1 */
	int		 renamed;	/* committed: under its final name */
	int		 existed;	/* that name was there before */
};
struct blob_refs {
	struct blob_ref	*r;
	size_t		 n, cap;
};

struct store {
	leveldb_t		*db;
	leveldb_options_t	*options;
	leveldb_cache_t		*cache;
	leveldb_filterpolicy_t	*filter;
	leveldb_writeoptions_t	*wsync;		/* sync = 1: every change */
	leveldb_readoptions_t	*rdefault;
	size_t			 max_value;
	size_t			 blob_min;	/* store_options.blob_min */
	uint64_t		 max_hint_bytes; /* per target; 0: no limit */
	atomic_int		 fail_writes;	/* store_fail_next_writes */
	store_change_fn		 on_change;
	void			*on_change_arg;
	store_batch_fn		 on_batch;
	void			*on_batch_arg;
	store_batch_fn		 on_staged;
	void			*on_staged_arg;
	atomic_int		 sync_failed;	/* a batch failed to sync */
	/* Told of failed writes (store_options.note), by the writer. */
	void			(*note)(const char *line, void *arg);
	void			*note_arg;
	int			 writes_failing; /* the last batch failed */
	int64_t			 failure_noted_ms; /* mono_ms, 0: never */
	int			 failure_noted_table; /* it was a table write's */
	/* The writer: the one thread that changes records (store.c). */
	pthread_t		 writer;
	int			 writer_started;
	pthread_mutex_t		 qlock;		/* the queue and the flags */
	pthread_cond_t		 work;		/* the writer waits here */
	pthread_cond_t		 finished;	/* store_run waits here */
	struct store_op		*q_head, *q_tail;
	atomic_uint_fast64_t	 syncs;		/* store_sync_count */
	atomic_uint_fast64_t	 write_failures; /* store_write_failure_count */
	int			 writer_idle;	/* waiting on work */
	int			 writer_busy;	/* running a batch */
	int			 stopping;
	struct pending		*tab;		/* the writer's: a batch's keys */
	leveldb_writebatch_t	*wb;		/* the writer's, cleared per batch */
	size_t			 tab_cap;
	void			*hints;		/* hints.c's state */
	struct blobdir		*blobs;		/* big versions' data */
	/* The writer's, per batch: blobs staged (synced and renamed just
	 * before the batch is written, removed if it fails) and blobs whose
	 * versions it drops (removed once it is written). */
	struct blob_refs	 new_blobs, dead_blobs;
	/* This process's open stores, by directory (store.c). */
	dev_t			 dir_dev;
	ino_t			 dir_ino;
	struct store		*next_open;
	int			 listed;	/* on that list */
};

/*
 * The hint log's state (hints.c): hints_open builds it from the 'x' rows
 * once the db is open (store_open fails when it fails); hints_close frees
 * it, before the db closes.
 */
int	hints_open(struct store *st, char **err);
void	hints_close(struct store *st);

/*
 * The LevelDB options every store opens its database with (store.c), also
 * leveldb-bench's, whose ceiling is then measured on the store's own
 * settings.  The caller destroys the options, then *cache and *filter.
 */
leveldb_options_t *store_leveldb_options(size_t cache_size,
	    int create_if_missing, leveldb_cache_t **cache,
	    leveldb_filterpolicy_t **filter);

/*
 * Key-space prefixes of the one LevelDB: 'k' records, 'd' data chunks,
 * 'h' the hash index, 'x' hints (hints.c).  A new kind takes a new letter.
 */

#endif
