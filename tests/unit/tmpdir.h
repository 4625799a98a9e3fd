/*
 * tmpdir.h - a fresh directory for a unit test's files, and its removal.
 *
 * tmpdir_make fills dir (size bytes) with "$TMPDIR/qfs-TAG-XXXXXX" (TMPDIR
 * unset: /tmp) and creates it; tmpdir_remove removes it and everything
 * under it.  Both return 0, or -1 with errno set.
 */
#ifndef TESTS_UNIT_TMPDIR_H
#define TESTS_UNIT_TMPDIR_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int
tmpdir_make(char *dir, size_t size, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	n = snprintf(dir, size, "%s/qfs-%s-XXXXXX", tmp ? tmp : "/tmp", tag);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int
tmpdir_remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static inline int
tmpdir_remove(const char *dir)
{
	return nftw(dir, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
