/* key.c - key validation and ring hashing; see key.h for the rules. */
#include <string.h>
#include <xxhash.h>

#include "lib/qerr.h"
#include "store/key.h"

/* Length of the UTF-8 sequence starting at s (at most n bytes), 0 if bad. */
static size_t
utf8_sequence_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int
path_validate(const char *p, size_t len, int allow_root, char **err)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i, seq, comp_start, comp_len;

	if (len == 0)
		return qerr_set(err, QERR_INVALID, "empty key");
	if (len > KEY_MAX_LEN)
		return qerr_set(err, QERR_TOO_BIG,
		    "key is %zu bytes, the limit is %d", len, KEY_MAX_LEN);
	if (s[0] != '/')
		return qerr_set(err, QERR_INVALID,
		    "key must start with '/'");
	if (len == 1)
		return allow_root ? 0 : qerr_set(err, QERR_INVALID,
		    "\"/\" is the root directory, not a key");
	for (i = 0; i < len; i += seq) {
		if (s[i] == '\0')
			return qerr_set(err, QERR_INVALID,
			    "key contains a NUL byte at offset %zu", i);
		seq = utf8_sequence_len(s + i, len - i);
		if (seq == 0)
			return qerr_set(err, QERR_INVALID,
			    "key is not valid UTF-8 at offset %zu", i);
	}
	comp_start = 1;
	for (i = 1; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		comp_len = i - comp_start;
		if (comp_len == 0)
			return qerr_set(err, QERR_INVALID,
			    "key has an empty component at offset %zu",
			    comp_start);
		if (comp_len > KEY_NAME_MAX)
			return qerr_set(err, QERR_TOO_BIG,
			    "key component of %zu bytes, the limit is %d",
			    comp_len, KEY_NAME_MAX);
		if ((comp_len == 1 && s[comp_start] == '.') ||
		    (comp_len == 2 && s[comp_start] == '.' &&
		    s[comp_start + 1] == '.'))
			return qerr_set(err, QERR_INVALID,
			    "key has a '.' or '..' component");
		comp_start = i + 1;
	}
	return 0;
}

int
key_validate(const char *key, size_t len, char **err)
{
	return path_validate(key, len, 0, err);
}

int
key_validate_dir(const char *dir, size_t len, char **err)
{
	return path_validate(dir, len, 1, err);
}

uint64_t
key_hash(const char *key, size_t len)
{
	return XXH3_64bits(key, len);
}

void
key_split(const char *key, size_t len, size_t *parent_len, size_t *name_off)
{
	size_t i = len;

	while (i > 0 && key[i - 1] != '/')
		i--;
	/* i is just past the last '/'; the root's children have parent "". */
	*name_off = i;
	*parent_len = i > 0 ? i - 1 : 0;
}
