/* kbuf.c - byte strings for LevelDB keys; see kbuf.h. */
#include <string.h>

#include "lib/xalloc.h"
#include "store/kbuf.h"

void
kbuf_put(struct kbuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 32;
		b->p = xrealloc(b->p, b->cap);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
kbuf_put_byte(struct kbuf *b, char c)
{
	kbuf_put(b, &c, 1);
}

void
kbuf_put_be64(struct kbuf *b, uint64_t v)
{
	unsigned char x[8];
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		x[i] = v & 0xff;
	kbuf_put(b, x, 8);
}

void
kbuf_put_be32(struct kbuf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };

	kbuf_put(b, x, 4);
}

uint64_t
be64_read(const void *p)
{
	const unsigned char *x = p;
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | x[i];
	return v;
}

uint32_t
be32_read(const void *p)
{
	const unsigned char *x = p;

	return (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 |
	    (uint32_t)x[2] << 8 | x[3];
}
