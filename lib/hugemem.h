/*
 * hugemem.h - large blocks from malloc on transparent huge pages.
 *
 * A value of up to 64 MiB is copied a few times on its way through a
 * process (a frame read, decoded, staged in a write batch), each time into
 * memory malloc has just mapped; on a virtual machine the first touch of
 * every 4 KiB page is a costly fault, and those faults cost a 64 MiB put
 * more than the copies themselves.  glibc (2.35 and later) can ask for
 * transparent huge pages for the memory it maps (the tunable
 * glibc.malloc.hugetlb=1, 512 times fewer faults), but reads its tunables
 * only when a program starts.
 */
#ifndef LIB_HUGEMEM_H
#define LIB_HUGEMEM_H

/*
 * Call first thing in main: unless GLIBC_TUNABLES already says something
 * of glibc.malloc.hugetlb (the operator's choice stands, "=0" included),
 * add glibc.malloc.hugetlb=1 to it and execute this program again with the
 * same arguments (the same process: its pid does not change).  Returns
 * only when it does not re-execute, or when that fails (then nothing has
 * changed but the environment, and malloc works as it always does).
 */
void	hugemem_reexec(char **argv);

#endif
