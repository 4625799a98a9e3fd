/* hugemem.c - see hugemem.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/hugemem.h"

#define HUGEMEM_TUNABLE "glibc.malloc.hugetlb"

void
hugemem_reexec(char **argv)
{
	const char *old = getenv("GLIBC_TUNABLES");
	char buf[1024];
	int len;

	if (old != NULL && strstr(old, HUGEMEM_TUNABLE) != NULL)
		return;
	len = snprintf(buf, sizeof(buf), "%s%s" HUGEMEM_TUNABLE "=1",
	    old != NULL ? old : "", old != NULL && *old != '\0' ? ":" : "");
	if (len < 0 || (size_t)len >= sizeof(buf) ||
	    setenv("GLIBC_TUNABLES", buf, 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	/* Not re-executed: say so to nobody, run as before. */
}
