/*
 * xalloc.h - allocation that never returns NULL.
 *
 * Running out of memory is not a recoverable condition for a storage daemon
 * (a half-applied merge is worse than a restart), so, as in tmux, these abort
 * with a message instead of returning NULL.  Sizes that come from the network
 * are bounded before they reach here (frame and value limits).
 */
#ifndef XALLOC_H
#define XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
