/* hugemem.c - see hugemem.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/hugemem.h"

static const struct {
	const char	*name;
	unsigned long	 value;
} hugemem_tunables_set[] = {
	{ "glibc.malloc.hugetlb",		1 },
	{ "glibc.malloc.trim_threshold",	HUGEMEM_TRIM_THRESHOLD },
	{ "glibc.malloc.top_pad",		HUGEMEM_TOP_PAD },
	{ "glibc.malloc.mmap_threshold",	HUGEMEM_MMAP_THRESHOLD },
};

/* Does the tunables string name tunable (as "name=" at an item's start)? */
static int
tunables_name(const char *s, const char *name)
{
	size_t n = strlen(name);
	const char *p = s;

	while (p != NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return 1;
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	return 0;
}

int
hugemem_tunables(const char *old, char *buf, size_t size)
{
	size_t i, len = 0;
	int n, added = 0;

	n = snprintf(buf, size, "%s", old != NULL ? old : "");
	if (n < 0 || (size_t)n >= size)
		return -1;
	len = (size_t)n;
	for (i = 0; i < sizeof(hugemem_tunables_set) /
	    sizeof(hugemem_tunables_set[0]); i++) {
		if (old != NULL && tunables_name(old, hugemem_tunables_set[i].name))
			continue;
		n = snprintf(buf + len, size - len, "%s%s=%lu",
		    len > 0 ? ":" : "", hugemem_tunables_set[i].name,
		    hugemem_tunables_set[i].value);
		if (n < 0 || (size_t)n >= size - len)
			return -1;
		len += (size_t)n;
		added++;
	}
	return added;
}

void
hugemem_reexec(char **argv)
{
	char buf[1024], self[PATH_MAX];
	ssize_t n;

	if (hugemem_tunables(getenv("GLIBC_TUNABLES"), buf, sizeof(buf)) <= 0 ||
	    setenv("GLIBC_TUNABLES", buf, 1) != 0)
		return;
	/*
	 * By the binary's own path: a process takes its name (what ps, top,
	 * pidof and killall go by) from the file it executes, and through
	 * /proc/self/exe every daemon would be called "exe".  The link
	 * itself is the fallback, for a binary removed since it started.
	 */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		execv(self, argv);
	}
	execv("/proc/self/exe", argv);
	/* Not re-executed: say so to nobody, run as before. */
}
