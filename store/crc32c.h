/*
 * crc32c.h - LevelDB's CRC-32C, computed with the CPU's crc32 instruction.
 *
 * LevelDB checksums every log record and table block it writes, and every
 * block a compaction reads.  It computes CRC-32C in
 * leveldb::crc32c::Extend, in software unless it was built with Google's
 * crc32c library, which Debian's build is not: a table loop that took 16%
 * of a node's CPU under 4 KiB puts.  When LevelDB is linked statically
 * (configure's default when libleveldb.a is installed), crc32c.cc
 * defines leveldb::crc32c::Extend itself, on ISA-L's crc32_iscsi (the
 * SSE4.2 crc32 instruction where the CPU has it, chosen at run time), and
 * the linker takes it instead of LevelDB's.  The checksums are the same
 * bytes either way: files written by one build read with the other.
 *
 * crc32c_check is what store.c calls to pull this module in before
 * LevelDB's archive is searched; it also checks the function on the
 * standard test vector.
 */
#ifndef STORE_CRC32C_H
#define STORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32C of data continuing from crc (0 to start), as LevelDB's. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);
/* 0 when crc32c_extend gives the standard CRC-32C of "123456789". */
int	crc32c_check(void);
/* 1 when LevelDB's own calls come here (LevelDB linked statically). */
int	crc32c_in_leveldb(void);

#ifdef __cplusplus
}
#endif

#endif
