/*
 * fuzz_replay.c - run a libFuzzer target's inputs without libFuzzer.
 *
 * Linked with one fuzz target (tests/fuzz.mk), it feeds every file of the
 * target's corpus in the source tree (FUZZ_CORPUS, below $top_srcdir) to
 * LLVMFuzzerTestOneInput, one TAP test point each: under `make check` the
 * seeds and every regression input of a bug a fuzzer found run on the
 * sanitizer build, and under valgrind (make check-valgrind).  A broken
 * contract aborts, which fails the test.  Arguments, when given, are files
 * to run instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The corpus files' paths, sorted (malloc'd, as is each path). */
static char **
corpus_list(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **paths = NULL;

	*n = 0;
	if (d == NULL) {
		printf("Bail out! cannot open %s\n", dir);
		exit(1);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		paths = xreallocarray(paths, *n + 1, sizeof(*paths));
		if (asprintf(&paths[(*n)++], "%s/%s", dir, e->d_name) < 0)
			abort();
	}
	closedir(d);
	qsort(paths, *n, sizeof(*paths), by_name);
	return paths;
}

/* Run one input; name is what the TAP line calls it. */
static void
replay(const char *path, const char *name, size_t i)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		printf("not ok %zu - %s: cannot read\n", i, name);
		if (f != NULL)
			fclose(f);
		return;
	}
	/* An exact-size copy: ASan or valgrind sees any read past the end. */
	buf = xmalloc(size > 0 ? (size_t)size : 1);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		printf("not ok %zu - %s: cannot read\n", i, name);
	} else {
		printf("# %s\n", path);
		fflush(stdout);
		LLVMFuzzerTestOneInput(buf, (size_t)size);
		printf("ok %zu - %s\n", i, name);
	}
	fflush(stdout);
	free(buf);
	fclose(f);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char *dir, **paths;
	size_t n, i;

	if (argc > 1) {
		printf("1..%d\n", argc - 1);
		for (i = 1; i < (size_t)argc; i++)
			replay(argv[i], argv[i], i);
		return 0;
	}
	if (asprintf(&dir, "%s/%s", top ? top : ".", FUZZ_CORPUS) < 0)
		abort();
	paths = corpus_list(dir, &n);
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		replay(paths[i], paths[i] + strlen(dir) - strlen(FUZZ_CORPUS),
		    i + 1);
		free(paths[i]);
	}
	free(paths);
	free(dir);
	return 0;
}
