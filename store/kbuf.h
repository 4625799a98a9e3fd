/*
 * kbuf.h - a growable byte string for building LevelDB keys and values,
 * with the big-endian integers that keep keys in numeric order.  Private
 * to store/.  The caller owns b->p (free it); reset with b->len = 0.
 */
#ifndef STORE_KBUF_H
#define STORE_KBUF_H

#include <stddef.h>
#include <stdint.h>

struct kbuf {
	char	*p;
	size_t	 len, cap;
};

void		kbuf_put(struct kbuf *b, const void *p, size_t n);
void		kbuf_put_byte(struct kbuf *b, char c);
void		kbuf_put_be64(struct kbuf *b, uint64_t v);
void		kbuf_put_be32(struct kbuf *b, uint32_t v);
uint64_t	be64_read(const void *p);
uint32_t	be32_read(const void *p);

#endif
