/*
 * hugemem.h - malloc tuned for a daemon that moves big values and many
 * small messages, set through glibc's tunables.
 *
 * A value of up to 64 MiB is copied a few times on its way through a
 * process (a frame read, decoded, staged in a write batch), each time into
 * memory malloc has just mapped; on a virtual machine the first touch of
 * every 4 KiB page is a costly fault, and those faults cost a 64 MiB put
 * more than the copies themselves.  glibc (2.35 and later) can ask for
 * transparent huge pages for the memory it maps (glibc.malloc.hugetlb=1,
 * 512 times fewer faults).  Small messages churn the heap's top instead:
 * with glibc's defaults a heap shrinks as soon as 128 KiB at its top are
 * free and grows again a moment later, a brk or mprotect and fresh page
 * faults each time (about 3% of a node's CPU under 64 clients' puts, in
 * sysmalloc and page faults, gone with these settings).  So the
 * heap keeps up to HUGEMEM_TRIM_THRESHOLD free at its top and grows by
 * HUGEMEM_TOP_PAD more than asked; blocks of HUGEMEM_MMAP_THRESHOLD and up
 * still get a mapping of their own, given back when freed.  glibc reads
 * its tunables only when a program starts.
 */
#ifndef LIB_HUGEMEM_H
#define LIB_HUGEMEM_H

#include <stddef.h>

#define HUGEMEM_TRIM_THRESHOLD	(128u << 20)
#define HUGEMEM_TOP_PAD		(16u << 20)
#define HUGEMEM_MMAP_THRESHOLD	(32u << 20)

/*
 * Call first thing in main: add to GLIBC_TUNABLES each of
 * glibc.malloc.hugetlb=1, glibc.malloc.trim_threshold, .top_pad and
 * .mmap_threshold (the values above) that it does not name already (the
 * operator's choice stands, "hugetlb=0" included), and if it added any,
 * execute this program again with the same arguments (the same process:
 * its pid does not change; by the binary's path, so that its name stays
 * the program's).  Returns only when it does not re-execute, or
 * when that fails (then nothing has changed but the environment, and
 * malloc works as it always does).
 */
void	hugemem_reexec(char **argv);

/*
 * The GLIBC_TUNABLES value hugemem_reexec sets: old (NULL for none) with
 * each of its tunables that old does not name appended, into buf.  Returns
 * how many it appended, or -1 if the result does not fit in size bytes.
 */
int	hugemem_tunables(const char *old, char *buf, size_t size);

#endif
